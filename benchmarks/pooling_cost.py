"""What does each pooling over time cost? One training step of the BiLSTM of ``configs/textrnn_bilstm.yaml``
(embedding -> encoder -> pooling -> head -> cross-entropy, backward, clipping by norm, Adam) per pooling,
side by side in one run: the poolings take turns, and each reports its fastest round.

Random token ids, batch 32, every text of length 400 (the longest BBC batches). Lines, the last one being
the shipped config's:

    pooling=<name> ms_per_step=<t> vs_max=<t / t_max>      (one line per pooling)

Usage: python benchmarks/pooling_cost.py [--batch 32] [--length 400] [--rounds 4] [--steps 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from textrnn.models import TextRNN
from textrnn.nn import POOLINGS

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "textrnn_bilstm.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=400)
    parser.add_argument("--vocab", type=int, default=9566, help="the config's vocabulary on BBC News")
    parser.add_argument("--rounds", type=int, default=4, help="turns each pooling takes")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per turn")
    args = parser.parse_args()

    init = yaml.safe_load(CONFIG.read_text())["model"]["init_args"]
    shipped = init["pooling"]
    sizes = {k: init[k] for k in ("cell", "bidirectional", "num_layers", "embedding_dim", "hidden_size")}
    torch.manual_seed(0)
    ids = torch.randint(2, args.vocab, (args.batch, args.length))
    lengths = torch.full((args.batch,), args.length)
    labels = torch.randint(0, 5, (args.batch,))
    order = sorted(POOLINGS, key=lambda p: (p == shipped, p != "max"))  # max first, the shipped one last
    models = {p: TextRNN(vocab_size=args.vocab, num_classes=5, pooling=p, **sizes) for p in order}
    optimizers = {p: torch.optim.Adam(m.parameters(), lr=init["lr"]) for p, m in models.items()}

    def step(pooling: str) -> None:
        model = models[pooling]
        loss = torch.nn.functional.cross_entropy(model(ids, lengths), labels)
        optimizers[pooling].zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizers[pooling].step()

    for pooling in order:  # warm-up
        step(pooling)
    best = dict.fromkeys(order, float("inf"))
    for _ in range(args.rounds):
        for pooling in order:
            start = time.perf_counter()
            for _ in range(args.steps):
                step(pooling)
            best[pooling] = min(best[pooling], (time.perf_counter() - start) / args.steps)
    print(f"threads={torch.get_num_threads()} batch={args.batch} length={args.length} "
          f"fastest of {args.rounds} rounds of {args.steps} steps")
    for pooling in order:
        print(f"pooling={pooling} ms_per_step={1000 * best[pooling]:.0f} vs_max={best[pooling] / best['max']:.3f}")


if __name__ == "__main__":
    main()
