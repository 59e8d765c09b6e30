"""Callbacks the ``textrnn`` command adds to every run: stop at a non-finite loss, and resume exactly.

Both are plain Lightning callbacks, so a Python user can add them to their own ``Trainer`` too.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import lightning.pytorch as pl
import torch


class NonFiniteLossError(ValueError):
    """The training loss became NaN or infinite."""


class StopOnNonFiniteLoss(pl.Callback):
    """Stop training at the first NaN or infinite training loss, with a message naming the step.

    Why a callback, and why this hook. One callback covers TextRNN, TextCNN, SineRNN and any other
    LightningModule the CLI trains, and keeps ``training_step`` about the model. ``on_before_backward``
    receives the very loss about to be backpropagated, after ``training_step`` and before the backward
    pass and the optimizer step, so the weights are never updated from a NaN: the model in memory and
    every checkpoint on disk stay the last good ones. Lightning's own options do not do this:
    ``detect_anomaly=True`` (autograd anomaly mode) slows every step and names an operation, not a step;
    ``EarlyStopping(check_finite=True)`` watches a validation metric, after an epoch of NaN updates.

    Under DDP the decision is taken together (one tiny all-reduce per step), so every process stops at
    the same step instead of the others waiting forever for gradients.
    """

    def __init__(self) -> None:
        self._batch_idx = 0

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        self._batch_idx = batch_idx

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor) -> None:
        finite = bool(torch.isfinite(loss.detach()).all())
        if trainer.strategy.reduce_boolean_decision(finite, all=True):
            return
        value = loss.detach().float().cpu().flatten().tolist()
        raise NonFiniteLossError(
            f"training loss is {value[0] if len(value) == 1 else value} at global step {trainer.global_step} "
            f"(epoch {trainer.current_epoch}, batch {self._batch_idx}); training stopped before this step "
            "changed the weights. "
            f"Try a lower learning rate{_current_lr(trainer)}, gradient clipping "
            "(--trainer.gradient_clip_val 1.0), or look for bad values in that batch's data."
        )


def _current_lr(trainer: pl.Trainer) -> str:
    try:
        lr = trainer.optimizers[0].param_groups[0]["lr"]
    except (IndexError, KeyError, AttributeError):
        return ""
    return f" (lr is {lr:g})" if isinstance(lr, (int, float)) and math.isfinite(lr) else ""


class ResumeRNGState(pl.Callback):
    """Save torch's global random state (CPU and CUDA) in every checkpoint and put it back when training
    resumes, so dropout after a resume draws the masks an uninterrupted run would have drawn.

    Lightning checkpoints weights, optimizer, schedulers and loop counters, not the random state. The
    state is put back at the first training batch after loading rather than at load time, because
    Lightning runs a sanity validation in between. From a checkpoint to the next training batch nothing
    else draws from the global generator: evaluation has no dropout, and `TextDataModule`'s loaders seed
    their workers from their own generators. Under DDP the checkpoint holds rank 0's state; every rank
    starts from the same seed and draws the same number of values, so the ranks' states agree anyway.
    """

    def __init__(self) -> None:
        self._pending: Optional[dict[str, Any]] = None

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = dict(state_dict)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        torch.set_rng_state(state["torch"])
        cuda = state.get("cuda")
        if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
