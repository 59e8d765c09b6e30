"""What moves the BiLSTM's BBC accuracy? Train ``configs/textrnn_bilstm.yaml`` with a few changes, per seed,
and read out three test accuracies from each run:

- ``best``: the epoch with the best validation accuracy, the checkpoint ``textrnn fit`` tests;
- ``last``: the last epoch;
- ``ema``: an exponential moving average of the weights (decay 0.99, from 30% of the steps on), what
  Lightning's ``EMAWeightAveraging`` callback would give.

The loop is the one Lightning runs for that config (same batches, dropout masks, clipping by norm and
per-step cosine schedule: see ``benchmarks/lightning_overhead.py``), written out so that one run yields all
three readouts. A variant is a JSON object of ``TextRNN``/``TextDataModule`` arguments that replace the
config's, plus ``tag``, and optionally ``epochs`` and ``bf16`` (CPU autocast). One line per run, then a
summary line per variant.

Usage: python benchmarks/bilstm_variants.py --seeds 42 43 --variants '{"tag": "base"}' \
           '{"tag": "adamw", "optimizer": "adamw", "weight_decay": 0.05}'
"""

from __future__ import annotations

import argparse
import copy
import inspect
import itertools
import json
import math
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch
import yaml
from torch.optim.swa_utils import AveragedModel, get_ema_avg_fn

from lightning_overhead import build  # this folder's script: the config's model, seeded

from textrnn.data import TextDataModule

REPO = Path(__file__).resolve().parents[1]
DATA_ARGS = set(inspect.signature(TextDataModule.__init__).parameters) - {"self"}


def accuracy(model: torch.nn.Module, loader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for batch in loader:
            correct += (model(batch["ids"], batch["lengths"]).argmax(-1) == batch["labels"]).sum().item()
            total += len(batch["labels"])
    model.train()
    return correct / total


def run(config: dict, variant: dict, seed: int, datamodules: dict, limit_batches: int | None) -> dict:
    variant = dict(variant)
    tag = variant.pop("tag", "variant")
    epochs = variant.pop("epochs", config["trainer"]["max_epochs"])
    bf16 = variant.pop("bf16", False)
    data_args = dict(config["data"]["init_args"], **{k: v for k, v in variant.items() if k in DATA_ARGS})
    model_args = dict(config["model"]["init_args"], **{k: v for k, v in variant.items() if k not in DATA_ARGS})
    key = json.dumps(data_args, sort_keys=True)
    if key not in datamodules:
        datamodules[key] = TextDataModule(**data_args)
        datamodules[key].setup("fit")
    dm = datamodules[key]

    model = build({"model": {"init_args": model_args}}, dm, seed)  # constant lr: the cosine schedule is ours
    optimizer = model.configure_optimizers()
    per_epoch = min(len(dm.train_dataloader()), limit_batches or math.inf)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * per_epoch)
    ema = AveragedModel(model, avg_fn=get_ema_avg_fn(0.99), use_buffers=True)
    clip = float(config["trainer"].get("gradient_clip_val", 1.0))

    start, step, vals, best = time.perf_counter(), 0, [], (-1.0, None)
    for epoch in range(epochs):
        loader = dm.train_dataloader()
        loader.batch_sampler.set_epoch(epoch)  # what the Trainer's epoch count does in `textrnn fit`
        for batch in itertools.islice(loader, per_epoch):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss, _ = model.model_step(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            schedule.step()
            step += 1
            if step >= 0.3 * epochs * per_epoch:
                ema.update_parameters(model)
        vals.append(accuracy(model, dm.val_dataloader()))
        if vals[-1] > best[0]:
            best = (vals[-1], copy.deepcopy(model.state_dict()))
    seconds = time.perf_counter() - start
    test = dm.test_dataloader()
    result = {"tag": tag, "seed": seed, "last": round(accuracy(model, test), 4), "ema": round(accuracy(ema.module, test), 4)}
    model.load_state_dict(best[1])
    result.update(best=round(accuracy(model, test), 4), train_s=round(seconds, 1), val=[round(v, 4) for v in vals])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "textrnn_bilstm.yaml"))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43])
    parser.add_argument("--variants", nargs="+", default=['{"tag": "base"}'], help="JSON objects, see above")
    parser.add_argument("--limit-batches", type=int, help="batches per epoch, for quick checks")
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    datamodules: dict = {}
    for variant in map(json.loads, args.variants):
        results = [run(config, variant, seed, datamodules, args.limit_batches) for seed in args.seeds]
        for result in results:
            print(json.dumps(result), flush=True)
        mean = {k: statistics.mean(r[k] for r in results) for k in ("best", "last", "ema")}
        print(f"variant={results[0]['tag']} seeds={len(results)} "
              + " ".join(f"{k}={100 * v:.2f}%" for k, v in mean.items()), flush=True)


if __name__ == "__main__":
    main()
