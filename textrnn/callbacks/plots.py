"""Callbacks that write pictures of a run into its log directory."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import torch


def run_dir(trainer: pl.Trainer) -> Path:
    """The run's directory (the logger's version folder), created if needed."""
    path = Path(trainer.log_dir or trainer.default_root_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


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
        fig.savefig(out / "sine_test.png", dpi=110)

        fig = Figure(figsize=(9, 3.5))
        ax = fig.subplots()
        ax.plot(x_axis[:steps], y_true[:steps], label="real", linewidth=2, color="0.7")
        ax.plot(x_axis[:steps], rollout, label=f"{steps}-step roll-out from the first window", color="C1")
        ax.set(xlabel="x", ylabel="value", title="Autoregressive roll-out (predictions fed back)")
        ax.legend(loc="best")
        fig.tight_layout()
        fig.savefig(out / "sine_rollout.png", dpi=110)
        pl_module.print(f"Wrote {out / 'sine_test.png'} and {out / 'sine_rollout.png'}")
