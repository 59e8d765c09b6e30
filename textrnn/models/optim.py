"""Optimizers and learning-rate schedules by name, so that a checkpoint's hyperparameters stay plain
strings and numbers (checkpoints load with ``weights_only=True``).

Schedules, all stepped every batch over the whole run (``trainer.estimated_stepping_batches``):

- ``constant``;
- ``cosine``: cosine decay from ``lr`` to zero;
- ``slanted_triangular``: ULMFiT's schedule (Howard & Ruder 2018, eq. 3): a short linear warm-up over the
  first ``cut_frac`` = 10% of the steps from ``lr / ratio`` (ratio 32) to ``lr``, then a long linear decay
  back to ``lr / ratio``;
- ``one_cycle``: Smith's one-cycle policy as torch's ``OneCycleLR`` gives it (warm-up over 25% of the run,
  then cosine annealing), as fastai fine-tunes.

Every schedule scales each parameter group's own learning rate, so discriminative learning rates (one
rate per layer group, `layer_groups`) keep their ratios through the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, get_args

import lightning.pytorch as pl
import torch
from torch import nn

Optimizer = Literal["adam", "adamw", "sgd", "adagrad", "rmsprop"]  # the keys of OPTIMIZERS
LRSchedule = Literal["constant", "cosine", "slanted_triangular", "one_cycle"]
OPTIMIZERS: dict[Optimizer, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
}
LR_SCHEDULES: tuple[str, ...] = get_args(LRSchedule)
STLR_CUT_FRAC, STLR_RATIO = 0.1, 32.0  # ULMFiT's values


def slanted_triangular(step: int, total: int, cut_frac: float = STLR_CUT_FRAC, ratio: float = STLR_RATIO) -> float:
    """ULMFiT's slanted triangular multiplier of the peak rate at ``step`` of ``total`` (eq. 3 of the paper)."""
    cut = max(1, int(total * cut_frac))
    p = step / cut if step < cut else 1 - (step - cut) / max(1, total - cut)
    return (1 + max(p, 0.0) * (ratio - 1)) / ratio


def layer_group_params(groups: Sequence[Iterable[nn.Parameter]], lr: float, lr_decay: float) -> list[dict[str, Any]]:
    """Discriminative learning rates: ``groups`` from the bottom (embedding) to the top (head); the top
    group gets ``lr`` and each group below it ``lr_decay`` times less (ULMFiT: 2.6). Empty groups are dropped."""
    top = len(groups) - 1
    param_groups = []
    for depth, params in enumerate(groups):
        params = list(params)
        if params:
            param_groups.append({"params": params, "lr": lr / lr_decay ** (top - depth)})
    return param_groups


def build_optimizer(module: pl.LightningModule, name: Optimizer, lr: float, weight_decay: float, schedule: LRSchedule,
                    params: Any = None):
    """The optimizer (and schedule) for ``module``, in the form ``configure_optimizers`` returns.

    Args:
        params: parameters or parameter groups (each with its own ``lr``); None: all of ``module``'s.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; valid choices are {tuple(OPTIMIZERS)}.")
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"Unknown lr_schedule {schedule!r}; valid choices are {LR_SCHEDULES}.")
    optimizer = OPTIMIZERS[name](module.parameters() if params is None else params, lr=lr, weight_decay=weight_decay)
    if schedule == "constant":
        return optimizer
    total = max(1, int(module.trainer.estimated_stepping_batches))
    if schedule == "cosine":  # decay to zero over the whole run
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    elif schedule == "slanted_triangular":
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: slanted_triangular(step, total))
    else:
        peaks = [group["lr"] for group in optimizer.param_groups]
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peaks, total_steps=total + 1)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
