"""Optimizers and learning-rate schedules by name, so that a checkpoint's hyperparameters stay plain
strings and numbers (checkpoints load with ``weights_only=True``)."""

from __future__ import annotations

from typing import Literal, get_args

import lightning.pytorch as pl
import torch

Optimizer = Literal["adam", "adamw", "sgd", "adagrad", "rmsprop"]  # the keys of OPTIMIZERS
LRSchedule = Literal["constant", "cosine"]
OPTIMIZERS: dict[Optimizer, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
}
LR_SCHEDULES: tuple[str, ...] = get_args(LRSchedule)


def build_optimizer(module: pl.LightningModule, name: Optimizer, lr: float, weight_decay: float, schedule: LRSchedule):
    """The optimizer (and schedule) for ``module``, in the form ``configure_optimizers`` returns."""
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; valid choices are {tuple(OPTIMIZERS)}.")
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"Unknown lr_schedule {schedule!r}; valid choices are {LR_SCHEDULES}.")
    optimizer = OPTIMIZERS[name](module.parameters(), lr=lr, weight_decay=weight_decay)
    if schedule == "constant":
        return optimizer
    # Cosine decay to zero over the whole run, stepped every batch.
    total = max(1, int(module.trainer.estimated_stepping_batches))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
