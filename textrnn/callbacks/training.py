"""Callbacks the ``textrnn`` command adds to every run: stop at a non-finite loss, resume exactly, and
stop cleanly on SIGINT or SIGTERM.

All are plain Lightning callbacks, so a Python user can add them to their own ``Trainer`` too.
"""

from __future__ import annotations

import math
import os
import signal
import threading
from typing import Any, Optional

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from textrnn.inference.checkpoints import check_rng_state


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
        check_rng_state(state_dict)  # a corrupt state: one CheckpointError now, not a traceback at the first batch
        self._pending = dict(state_dict)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        torch.set_rng_state(state["torch"])
        cuda = state.get("cuda")
        if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StoppedBySignal(SystemExit):
    """The run was stopped by SIGINT or SIGTERM; the exit code is 128 + the signal's number, as shells use
    (130 and 143), and ``message`` says what was saved and how to resume."""

    def __init__(self, signum: int, step: Optional[int], saved: Optional[str], stage: Optional[str] = "fit") -> None:
        name = signal.Signals(signum).name
        if saved:
            self.message = (f"stopped by {name} after training step {step}; saved {saved}. To resume, run the same "
                            "command with --ckpt_path last")
        elif stage == "finished":
            self.message = f"received {name} as the run was ending; it finished, and exits with {128 + signum} as asked"
        elif stage not in (None, "fit"):
            self.message = f"stopped by {name} while running {stage} (after training, if any); nothing new was saved"
        else:
            self.message = f"stopped by {name} before a new training step completed; nothing was saved"
        super().__init__(128 + signum)


class StopOnSignal(pl.Callback):
    """SIGINT (Ctrl+C) or SIGTERM: finish the current step, save ``last.ckpt``, stop with `StoppedBySignal`.

    Lightning on its own treats SIGTERM as a clean end (exit status 0, the final test skipped, nothing
    saved), which schedulers and preemption handlers read as success, and Ctrl+C as an exception in the
    middle of whatever ran (exit status 1). Here the first signal raises the flag Lightning's loops check
    after every training step and evaluation batch, the one its own SIGTERM handler raises; at that step
    boundary the loop stops, ``on_exception`` saves ``last.ckpt`` in the checkpoint folder if a training
    step completed since the run (or the resume) began, and `StoppedBySignal` carries the signal out. A
    second signal stops at once, saving nothing.

    Attributes:
        signum: the signal received, or None.
        saved: the checkpoint written on the signal, or None.
    """

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self.saved: Optional[str] = None
        self.step: Optional[int] = None
        self.stage: Optional[str] = None  # "fit", "validate", "test" or "predict"
        self._trainer: Optional[pl.Trainer] = None
        self._start_step: Optional[int] = None
        self._previous: dict[int, Any] = {}

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            return
        self._trainer = trainer
        for signum in SIGNALS:
            self._previous.setdefault(signum, signal.getsignal(signum))
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._trainer is None:  # after the run: behave as before it
            previous = self._previous.get(signum)
            if callable(previous):
                return previous(signum, frame)
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return None
        if self.signum is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.signum = signum
        self._raise_flag()

    def _raise_flag(self) -> None:
        # Lightning clears the flag when it registers its own handlers (after `setup`): raise it again.
        # Lightning 2.x has no public setter for it (`Trainer.received_sigterm` only reads it); the other
        # public way in, sending this process a SIGTERM, would log a SIGINT as a SIGTERM and forward it to
        # DDP workers. tests/test_lightning_private.py pins the attribute against the installed Lightning.
        if self.signum is not None and self._trainer is not None:
            self._trainer._signal_connector.received_sigterm = True

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start_step = trainer.global_step
        self._raise_flag()

    def on_sanity_check_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._raise_flag()

    on_validation_start = on_test_start = on_predict_start = on_sanity_check_start

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if self.signum is None and isinstance(exception, SIGTERMException):  # Lightning's handler alone saw it
            self.signum = signal.SIGTERM
        self.step, self.stage = trainer.global_step, getattr(trainer.state.fn, "value", None)
        graceful = isinstance(exception, SIGTERMException) and self.stage == "fit" and self._start_step is not None
        if self.signum is not None and graceful and trainer.global_step > self._start_step:
            callback = trainer.checkpoint_callback
            folder = getattr(callback, "dirpath", None) or os.path.join(trainer.default_root_dir, "checkpoints")
            self.saved = os.path.join(folder, "last.ckpt")
            if isinstance(callback, ModelCheckpoint):  # so that, resumed, it goes on writing last.ckpt, not last-v1.ckpt
                callback.last_model_path = self.saved
            trainer.save_checkpoint(self.saved, weights_only=False)  # the full state, to resume from
        self.restore()

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.restore()

    def restore(self) -> None:
        """Put back the signal handlers that were there before the run."""
        if self._trainer is None:
            return
        self._trainer = None
        for signum, previous in self._previous.items():
            if signal.getsignal(signum) == self._on_signal and previous is not None:
                signal.signal(signum, previous)
