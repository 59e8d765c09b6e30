"""Is the exported ONNX model faster than torch at inference? CPU texts/s of ONNX Runtime against torch eager
(``inference_mode``) for the shipped BiLSTM (``configs/textrnn_bilstm.yaml``) and Text-CNN
(``configs/textcnn.yaml``), at batch 1 and batch 64, side by side in one run: the two engines take turns
on the same padded batches, and each reports its fastest round. Both get the same number of threads,
one by default: on a shared, loaded machine two threads each made torch's time swing tenfold (its OpenMP
threads wait on busy cores), which measured the neighbours, not the engines.

The models are built untrained from the configs' model arguments (speed does not depend on the weights)
with a BBC-like vocabulary (``--vocab``, 9,566 words: the BiLSTM config's vocabulary on BBC News) and
texts whose lengths are drawn uniformly from ``--min-length`` to ``--max-length`` tokens (BBC articles
run to ~460 tokens and are truncated at 400). Batches are formed longest first, as ``predict`` does.
Lines, the last one being the summary:

    model=<name> batch=<b> torch_texts_s=<t> onnx_texts_s=<o> speedup=<o / t> parity=<max |p_onnx - p_torch|>
    onnx_speedup_b1=<x> onnx_speedup_b64=<y>      (geometric means of the two models' speedups)

Usage: python benchmarks/export_speed.py [--texts 128] [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch
import yaml

from textrnn.inference.onnx import export_onnx, onnx_session, run_session
from textrnn.models import TextCNN, TextRNN

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {"bilstm": (TextRNN, REPO / "configs" / "textrnn_bilstm.yaml"), "textcnn": (TextCNN, REPO / "configs" / "textcnn.yaml")}
TRAINING_ONLY = ("optimizer", "lr", "weight_decay", "lr_schedule")
BATCH_SIZES = (1, 64)
NUM_CLASSES = 5  # BBC News


def build(name: str, args: argparse.Namespace) -> torch.nn.Module:
    """The config's model, untrained, with ``--hidden``/``--embedding``/``--filters`` overrides (for smoke tests)."""
    cls, config = CONFIGS[name]
    init = {k: v for k, v in yaml.safe_load(config.read_text())["model"]["init_args"].items() if k not in TRAINING_ONLY}
    overrides = {"hidden_size": args.hidden, "embedding_dim": args.embedding, "num_filters": args.filters}
    init.update({k: v for k, v in overrides.items() if v is not None and k in init})
    return cls(vocab_size=args.vocab, num_classes=NUM_CLASSES, pad_id=0, **init).eval()


def batches(args: argparse.Namespace, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Padded (ids, lengths) batches of ``--texts`` random texts, longest first."""
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(args.min_length, args.max_length + 1, (args.texts,), generator=generator)
    lengths = lengths.sort(descending=True).values
    out = []
    for start in range(0, args.texts, batch_size):
        chunk = lengths[start : start + batch_size]  # (B,)
        ids = torch.randint(1, args.vocab, (len(chunk), int(chunk.max())), generator=generator)  # (B, T)
        ids[torch.arange(ids.size(1)) >= chunk.unsqueeze(1)] = 0
        out.append((ids, chunk))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=128, help="texts classified per round and batch size")
    parser.add_argument("--rounds", type=int, default=3, help="turns each engine takes; the fastest counts")
    parser.add_argument("--vocab", type=int, default=9566)
    parser.add_argument("--min-length", type=int, default=200)
    parser.add_argument("--max-length", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1, help="for torch and ONNX Runtime alike (see the docstring)")
    parser.add_argument("--hidden", type=int, default=None, help="override hidden_size (smoke tests)")
    parser.add_argument("--embedding", type=int, default=None, help="override embedding_dim (smoke tests)")
    parser.add_argument("--filters", type=int, default=None, help="override num_filters (smoke tests)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads={args.threads} texts={args.texts} lengths={args.min_length}-{args.max_length} vocab={args.vocab} "
          f"rounds={args.rounds} (untrained models from the configs' model arguments)")

    speedups = {b: [] for b in BATCH_SIZES}
    with tempfile.TemporaryDirectory() as tmp:
        for name in CONFIGS:
            torch.manual_seed(0)
            model = build(name, args)
            session = onnx_session(export_onnx(model, Path(tmp) / f"{name}.onnx", args.vocab), threads=args.threads)

            def run_torch(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
                with torch.inference_mode():
                    return model(*batch).float().softmax(dim=-1)

            engines = {"torch": run_torch, "onnx": lambda batch: run_session(session, *batch)}
            for batch_size in BATCH_SIZES:
                data = batches(args, batch_size)
                parity = max(float((engines["onnx"](b) - engines["torch"](b)).abs().max()) for b in data)  # + warm-up
                best = dict.fromkeys(engines, math.inf)
                for _ in range(args.rounds):
                    for engine, run in engines.items():
                        start = time.perf_counter()
                        for b in data:
                            run(b)
                        best[engine] = min(best[engine], time.perf_counter() - start)
                rate = {engine: args.texts / seconds for engine, seconds in best.items()}
                speedup = rate["onnx"] / rate["torch"]
                speedups[batch_size].append(speedup)
                print(f"model={name} batch={batch_size} torch_texts_s={rate['torch']:.1f} "
                      f"onnx_texts_s={rate['onnx']:.1f} speedup={speedup:.2f} parity={parity:.1e}", flush=True)
    geomean = {b: math.exp(sum(map(math.log, s)) / len(s)) for b, s in speedups.items()}
    print(f"onnx_speedup_b1={geomean[1]:.2f} onnx_speedup_b64={geomean[64]:.2f}")


if __name__ == "__main__":
    main()
