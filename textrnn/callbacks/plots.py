"""Callbacks that write pictures of a run into its log directory: the learning curves of a text
classifier (`LearningCurves`) and the sine regression's predictions (`SinePlots`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from textrnn.files import save_figure

# Fonts that draw Chinese labels in the figures, the first one installed wins (DejaVu Sans draws the rest).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei",
             "Microsoft YaHei", "PingFang SC", "Arial Unicode MS")


def run_dir(trainer: pl.Trainer) -> Path:
    """The run's directory (the logger's version folder), created if needed."""
    path = Path(trainer.log_dir or trainer.default_root_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


class LearningCurves(pl.Callback):
    """Draw ``learning_curve.png`` into the run's folder after every training epoch: the training loss
    (mean over the epoch's batches) and the validation loss on the left, the validation metrics on the
    right, per epoch. The history travels in the checkpoint, so a resumed run draws the whole run.

    Args:
        metrics: the validation metrics to draw on the right, as logged (``val/acc``, ``val/f1_macro``).
        filename: the picture's name in the run's folder.
    """

    def __init__(self, metrics: tuple[str, ...] = ("val/acc", "val/f1_macro"), filename: str = "learning_curve.png") -> None:
        self.metrics = tuple(metrics)
        self.filename = filename
        self.train_loss: dict[int, float] = {}  # epoch -> mean training loss
        self.val: dict[int, dict[str, float]] = {}  # epoch -> {"val/loss": ..., "val/acc": ...}
        self._loss_sum: Any = 0.0
        self._batches = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._loss_sum, self._batches = 0.0, 0

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor):
            self._loss_sum = self._loss_sum + loss.detach().float()  # stays on the device: no sync per step
            self._batches += 1

    def _record_train_loss(self, epoch: int) -> None:
        if self._batches:
            self.train_loss[epoch] = float(self._loss_sum) / self._batches

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        logged = trainer.callback_metrics
        names = ("val/loss", *self.metrics)
        self.val[trainer.current_epoch] = {name: float(logged[name]) for name in names if name in logged}
        # Also here: Lightning runs this hook before ModelCheckpoint's, which saves the epoch's checkpoint.
        self._record_train_loss(trainer.current_epoch)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._record_train_loss(trainer.current_epoch)
        out = run_dir(trainer)  # every process: under DDP, trainer.log_dir is a collective call
        if trainer.is_global_zero:
            self.draw(out / self.filename)

    def draw(self, path: Path) -> None:
        """Write the curves recorded so far to ``path``."""
        from matplotlib.figure import Figure  # the object API: no pyplot state, no backend switch
        from matplotlib.ticker import MaxNLocator

        fig = Figure(figsize=(10, 3.8))
        loss_ax, metric_ax = fig.subplots(1, 2)
        train = sorted(self.train_loss.items())
        loss_ax.plot([e + 1 for e, _ in train], [v for _, v in train], marker="o", label="train loss (epoch mean)")
        for name in ("val/loss", *self.metrics):
            points = sorted((epoch, row[name]) for epoch, row in self.val.items() if name in row)
            ax = loss_ax if name == "val/loss" else metric_ax
            ax.plot([e + 1 for e, _ in points], [v for _, v in points], marker="o", label=name)
        loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
        metric_ax.set(xlabel="epoch", ylabel="score", title="Validation metrics")
        for ax in (loss_ax, metric_ax):
            ax.grid(alpha=0.3)
            ax.legend(loc="best")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        fig.tight_layout()
        save_figure(fig, path, dpi=100)

    def state_dict(self) -> dict[str, Any]:
        return {"train_loss": dict(self.train_loss), "val": {epoch: dict(row) for epoch, row in self.val.items()}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_loss = {int(epoch): float(value) for epoch, value in state_dict.get("train_loss", {}).items()}
        self.val = {int(epoch): {str(name): float(value) for name, value in row.items()}
                    for epoch, row in state_dict.get("val", {}).items()}


class SinePlots(pl.Callback):
    """After testing a ``SineRNN``, plot predicted vs real over the test range (``sine_test.png``) and an
    autoregressive roll-out from the first test window vs the truth (``sine_rollout.png``).

    Args:
        rollout_steps: values to roll out beyond the first test window.
    """

    def __init__(self, rollout_steps: int = 200) -> None:
        self.rollout_steps = rollout_steps

    @torch.no_grad()
    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        out = run_dir(trainer)  # every process: under DDP, trainer.log_dir is a collective call
        if not trainer.is_global_zero:
            return
        from matplotlib.figure import Figure  # not pyplot: no global backend, no figure left open

        data = trainer.datamodule
        x_windows, y_true = data.datasets["test"].tensors
        device = pl_module.device
        y_pred = pl_module.step(x_windows.to(device)).cpu()
        x_axis = data.target_x("test")
        steps = min(self.rollout_steps, len(y_true))
        rollout = pl_module(x_windows[:1].to(device), future=steps - 1)[0].cpu()
        rmse = (y_pred - y_true).pow(2).mean().sqrt().item()

        fig = Figure(figsize=(9, 3.5))
        ax = fig.subplots()
        ax.plot(x_axis, y_true, label="real", linewidth=2, color="0.7")
        ax.plot(x_axis, y_pred, label=f"predicted (RMSE {rmse:.4g})", linewidth=1, color="C0")
        ax.set(xlabel="x", ylabel="value", title="Next-value prediction over the test range")
        ax.legend(loc="best")
        fig.tight_layout()
        save_figure(fig, out / "sine_test.png", dpi=110)

        fig = Figure(figsize=(9, 3.5))
        ax = fig.subplots()
        ax.plot(x_axis[:steps], y_true[:steps], label="real", linewidth=2, color="0.7")
        ax.plot(x_axis[:steps], rollout, label=f"{steps}-step roll-out from the first window", color="C1")
        ax.set(xlabel="x", ylabel="value", title="Autoregressive roll-out (predictions fed back)")
        ax.legend(loc="best")
        fig.tight_layout()
        save_figure(fig, out / "sine_rollout.png", dpi=110)
        pl_module.print(f"Wrote {out / 'sine_test.png'} and {out / 'sine_rollout.png'}")
