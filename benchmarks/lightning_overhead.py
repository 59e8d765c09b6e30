"""What does Lightning cost? The same BiLSTM, data, seed and steps, trained by a raw PyTorch loop and by
``Trainer.fit`` (progress bar, logger and checkpointing off), side by side in one run.

The model and data are those of ``configs/textrnn_bilstm.yaml`` (BBC News, length-bucketed batches,
clipping by norm 1.0), with a constant learning rate. Both loops draw the same dropout masks and the same
batches, so their losses agree step by step; the script checks that (<= 1e-5) before timing anything
means something. Each repeat runs both loops, in alternating order, and the ratio is of the medians.

Lines printed, the last one being the result:

    raw_s=<median seconds> lightning_s=<median seconds> steps=<n> max_loss_diff=<d>
    lightning_overhead=<lightning_s / raw_s>

Usage: python benchmarks/lightning_overhead.py [--steps 40] [--repeats 4] [--config configs/textrnn_bilstm.yaml]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import lightning.pytorch as pl
import torch
import yaml

from textrnn.data import TextDataModule
from textrnn.models import TextRNN

REPO = Path(__file__).resolve().parents[1]


class LossRecorder(pl.Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(outputs["loss"].item())


def build(config: dict, datamodule: TextDataModule, seed: int) -> TextRNN:
    """The config's model with a constant learning rate, seeded."""
    datamodule.trainer = None  # forget the last Trainer: its epoch count would pick another batch order
    pl.seed_everything(seed, verbose=False)
    args = dict(config["model"]["init_args"], lr_schedule="constant")
    linked = {"vocab_size": datamodule.vocab_size, "num_classes": datamodule.num_classes, "pad_id": datamodule.pad_id}
    return TextRNN(**args, **linked)


def raw_loop(model: TextRNN, datamodule: TextDataModule, steps: int, clip: float) -> tuple[float, list[float]]:
    """The loop Lightning replaces: batches, loss, backward, clip, step. Returns (seconds, losses)."""
    optimizer = model.configure_optimizers()
    model.train()
    losses = []
    start = time.perf_counter()
    for batch_idx, batch in enumerate(datamodule.train_dataloader()):
        if batch_idx == steps:
            break
        loss, _ = model.model_step(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        losses.append(loss.item())
    return time.perf_counter() - start, losses


def lightning_fit(model: TextRNN, datamodule: TextDataModule, steps: int, clip: float) -> tuple[float, list[float]]:
    recorder = LossRecorder()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=steps,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        gradient_clip_val=clip,
        gradient_clip_algorithm="norm",
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=False,
        callbacks=[recorder],
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    return time.perf_counter() - start, recorder.losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "textrnn_bilstm.yaml"))
    parser.add_argument("--steps", type=int, default=40, help="training steps per run")
    parser.add_argument("--repeats", type=int, default=4, help="runs of each loop (even: each goes first as often)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", ".*does not have many workers.*")

    config = yaml.safe_load(Path(args.config).read_text())
    clip = float(config["trainer"].get("gradient_clip_val", 1.0))
    datamodule = TextDataModule(**config["data"]["init_args"])
    datamodule.setup("fit")
    datamodule.encoded("train")  # tokenize once, outside the timings
    seed = int(config.get("seed_everything", 42))

    raw_loop(build(config, datamodule, seed), datamodule, 3, clip)  # warm-up: first-call kernel setup, caches
    times: dict[str, list[float]] = {"raw": [], "lightning": []}
    losses: dict[str, list[float]] = {}
    loops = [("raw", raw_loop), ("lightning", lightning_fit)]
    for repeat in range(args.repeats):
        for name, loop in loops if repeat % 2 == 0 else loops[::-1]:  # alternate who goes first
            seconds, run_losses = loop(build(config, datamodule, seed), datamodule, args.steps, clip)
            times[name].append(seconds)
            losses[name] = run_losses
    if len(losses["raw"]) != len(losses["lightning"]):
        raise SystemExit(f"step counts differ: raw {len(losses['raw'])}, lightning {len(losses['lightning'])}")
    diff = max(abs(a - b) for a, b in zip(losses["raw"], losses["lightning"]))
    raw_s, lightning_s = statistics.median(times["raw"]), statistics.median(times["lightning"])
    print(f"raw_s={raw_s:.2f} lightning_s={lightning_s:.2f} steps={len(losses['raw'])} max_loss_diff={diff:.2e}")
    if diff > 1e-5:
        raise SystemExit(f"the two loops disagree: max loss difference {diff:.2e} > 1e-5")
    print(f"lightning_overhead={lightning_s / raw_s:.3f}")


if __name__ == "__main__":
    main()
