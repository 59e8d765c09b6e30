"""TensorBoard logs in each run's own folder, next to the CSV logger's ``metrics.csv``.

Two loggers in a config's ``logger:`` list each pick their own ``version_N`` (the second one sees the
folder the first just made and takes the next number), so the CSV metrics and the TensorBoard events of
one run would land in two folders. `TensorBoardLogs` adds a `TensorBoardLogger` that writes into the
run's folder itself (``trainer.log_dir``): ``tensorboard --logdir runs`` then shows each run under its
own ``<name>/version_N``, and the configs keep one logger whose options the command line can set.
"""

from __future__ import annotations

import lightning.pytorch as pl
from lightning.pytorch.loggers import TensorBoardLogger

from textrnn.callbacks.plots import run_dir


class TensorBoardLogs(pl.Callback):
    """Log everything the run logs to TensorBoard too, in the run's folder (no-op without a logger)."""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not trainer.loggers or any(isinstance(logger, TensorBoardLogger) for logger in trainer.loggers):
            return
        folder = run_dir(trainer)  # every process: under DDP, trainer.log_dir is a collective call
        # name="" and version="" make the logger's folder save_dir itself, not save_dir/<name>/version_N.
        tensorboard = TensorBoardLogger(save_dir=folder, name="", version="", default_hp_metric=False)
        trainer.loggers = [*trainer.loggers, tensorboard]
