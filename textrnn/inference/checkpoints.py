"""Reading and writing checkpoint files safely.

- `read_checkpoint`: ``torch.load(weights_only=True)`` with one clear error per way a file can be bad:
  missing, truncated or corrupt, or carrying pickled objects (which could run code when loaded).
  `textrnn.load` and every ``--ckpt_path`` of the CLI go through it.
- `AtomicCheckpointIO`: Lightning's checkpoint writer, made atomic on local disks. Lightning 2.6's own
  ``_atomic_save`` writes through an fsspec transaction: the bytes go to ``tempfile.mkstemp()`` (the
  system temp folder, often another file system) and are then moved with ``shutil.move``, which across
  file systems is a plain copy into the destination, and nothing is fsynced. A crash during that copy,
  or a power loss soon after, can leave a truncated ``last.ckpt`` in place of the good one. We write to
  a temporary file in the destination folder, fsync it, ``os.replace`` it over the old file (atomic on
  POSIX and Windows) and fsync the folder: a reader sees the old file or the new one, never a part.
- `check_checkpoint`: every value read from a checkpoint, checked before use, in one place: the model
  class (an allow-list of textrnn's own models, matched by name: nothing is imported), its constructor
  arguments (names, types and ranges, the model built on the ``meta`` device so that no tensor is
  allocated until its sizes match the stored weights), label names, tokenizer, loader and RNG state.
- `check_fits` (in `textrnn.inference.fits`, which the models import: it needs no model class): a
  checkpoint's class, vocabulary and weights must fit the model they are loaded into.

The allow-list of model classes is `textrnn.models.registry.MODELS`; this module imports the models
through it, and the models import only `textrnn.inference.fits`, so there is no import cycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch import nn

from textrnn.files import atomic_write
from textrnn.inference.fits import (  # noqa: F401  (re-exported: the checks a model runs on its own checkpoint)
    LIGHTNING_KEYS, CheckpointError, check_fits, check_hparams, check_vocabulary, check_weights, first_embedding,
    read_checkpoint, read_tokenizer, rebuild_checked,
)
from textrnn.artifact import KEY, Record, read_record
from textrnn.models.registry import MODELS, model_classes, model_path  # noqa: F401  (the allow-list)

if TYPE_CHECKING:
    from tokenizers import Tokenizer

PathLike = Union[str, Path]



def atomic_torch_save(obj: Any, path: PathLike) -> None:
    """``torch.save(obj, path)`` that never leaves a partial file at ``path``: temp file, fsync, replace."""
    with atomic_write(path, binary=True, what="the checkpoint") as file:
        torch.save(obj, file)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's `TorchCheckpointIO` with atomic local writes and weights-only reads with clear errors.

    Remote paths (``s3://`` and other fsspec URLs) keep Lightning's own writer. Every local checkpoint
    read passes `check_checkpoint`, against ``model_class`` (the model being trained) when it is given.
    """

    def __init__(self, model_class: Optional[type] = None) -> None:
        super().__init__()
        self.model_class = model_class

    def save_checkpoint(self, checkpoint: dict[str, Any], path: PathLike, storage_options: Optional[Any] = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        atomic_torch_save(checkpoint, path)

    def load_checkpoint(
        self, path: PathLike, map_location: Any = "cpu", weights_only: Optional[bool] = None
    ) -> dict[str, Any]:
        if weights_only is False or "://" in str(path):  # an explicit opt-out, or a remote file
            return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)
        checkpoint = read_checkpoint(path, map_location=map_location)
        check_checkpoint(checkpoint, repr(str(path)), expected=self.model_class)
        return checkpoint


# ---- everything read from a checkpoint, checked before use ---------------------------------------------


@dataclass(frozen=True)
class CheckedCheckpoint:
    """What `check_checkpoint` vouches for: the model class (from the allow-list), its constructor
    arguments (known names, plain values of the annotated types, sizes that fit the stored weights), and
    for a text classifier the label names and the tokenizer (truncating at the recorded max_length); and
    textrnn's record itself (`textrnn.artifact`)."""

    model_class: type
    hparams: dict[str, Any]
    label_names: Optional[list[str]] = None
    tokenizer: Optional["Tokenizer"] = None
    record: Optional[Record] = None


def allowed_model(name: Any, what: str = "the checkpoint") -> type:
    """The textrnn model class called ``name``; anything else is refused. A name is looked up, never imported."""
    classes = model_classes()
    if not isinstance(name, str) or name not in classes:
        raise CheckpointError(f"refusing model class {name!r} named by {what}: only textrnn's own models "
                              f"({', '.join(MODELS)}) are built from a checkpoint")
    return classes[name]


def check_checkpoint(
    checkpoint: dict[str, Any], where: str, expected: Optional[type] = None, base: Optional[type] = None,
    require_data: bool = False,
) -> CheckedCheckpoint:
    """Check every value of ``checkpoint`` textrnn reads, before any of it is used; one `CheckpointError`
    naming the bad value and what is valid otherwise.

    Args:
        checkpoint: the dict `read_checkpoint` returned.
        where: how messages name the file.
        expected: the model class the config builds; a checkpoint of another class is refused.
        base: the class the model must derive from (`textrnn.load`: `TextClassifier`).
        require_data: the datamodule's state (tokenizer, label names) must be there.
    """
    record = read_record(checkpoint, where)  # schema 0 migrated; a newer schema refused
    name_key = f"{KEY}.model_class" if checkpoint.get(KEY) is not None else "textrnn_model"
    recorded = {key: value for key, value in ((name_key, record.model_class if record is not None else None),
                ("hyper_parameters._class_path", _get(checkpoint, "hyper_parameters", "_class_path"))) if value is not None}
    classes = {key: allowed_model(value, f"{key!r} in {where}") for key, value in recorded.items()}
    for key, named in classes.items():
        if base is not None and not issubclass(named, base):
            raise CheckpointError(f"refusing model class {recorded[key]!r} named by {key!r} in {where}: "
                                  f"a {named.__name__} is not a {base.__name__}")
    cls = next(iter(classes.values()), expected)
    if cls is None or len(set(classes.values())) > 1:
        raise CheckpointError(f"{where} names {'no model class' if cls is None else 'two model classes ' + str(recorded)}")
    if expected is not None and cls is not expected:
        raise CheckpointError(f"{where} holds a {cls.__name__} but the config builds a {expected.__name__}; use the "
                              f"config it was trained with (its run's config.yaml) or --model {cls.__name__}")
    hparams = check_hparams(cls, checkpoint.get("hyper_parameters", {}), where)
    model = rebuild_checked(cls, hparams, checkpoint.get("state_dict"), where)
    check_thresholds(checkpoint["state_dict"].get("thresholds"), where)
    _check_loader_state(checkpoint, where)
    callbacks = checkpoint.get("callbacks", {})
    if not isinstance(callbacks, dict):
        raise CheckpointError(f"{where}: its 'callbacks' state is a {type(callbacks).__name__}, not a dict")
    for key, state in callbacks.items():
        if str(key).startswith("ResumeRNGState"):
            check_rng_state(state, f"{where}: the random state")
    if (record is None or not record.has_data) and not require_data:
        return CheckedCheckpoint(cls, hparams, record=record)
    return CheckedCheckpoint(cls, hparams, *_check_data_state(record, model, where), record=record)



def _get(mapping: Any, *keys: str) -> Any:
    for key in keys:
        mapping = mapping.get(key) if isinstance(mapping, dict) else None
    return mapping


def _check_data_state(record: Optional[Record], model: nn.Module, where: str) -> tuple[list[str], "Tokenizer"]:
    """The label names and tokenizer of textrnn's record (its fields' types checked by `read_record`), each
    checked against the model; the tokenizer truncates at the record's max_length, as training did."""
    if record is None or not record.has_data or record.label_names is None:
        raise CheckpointError(f"{where}: it holds no tokenizer and label names (textrnn's {KEY!r} record, or "
                              "'TextDataModule' before it); give a checkpoint written by training a text classifier")
    tokenizer = read_tokenizer(record.tokenizer, f"{where}: the stored tokenizer")
    check_vocabulary(model, tokenizer, f"{where}: the tokenizer")
    names, classes = record.label_names, getattr(model.hparams, "num_classes", None)
    if classes is not None and len(names) != classes:
        raise CheckpointError(f"{where}: {len(names)} label names {list(names)} for a model of {classes} classes")
    multi_label = bool(getattr(model, "multi_label", False))
    if classes is not None and record.multi_label != multi_label:
        raise CheckpointError(f"{where}: the stored task {record.task!r} does not match the model's "
                              f"({'multi_label' if multi_label else 'classification'})")
    if record.max_length is not None:
        tokenizer.enable_truncation(record.max_length)
    return list(names), tokenizer


def check_thresholds(thresholds: Any, where: str) -> None:
    """A multi-label model's per-label decision thresholds (its ``thresholds`` buffer, whose shape
    `check_weights` checked): floating point, finite and within [0, 1]."""
    if thresholds is None:
        return
    if not isinstance(thresholds, torch.Tensor) or not thresholds.is_floating_point() or not bool(
            (torch.isfinite(thresholds) & (thresholds >= 0) & (thresholds <= 1)).all()):
        shown = thresholds.tolist() if isinstance(thresholds, torch.Tensor) else repr(thresholds)
        raise CheckpointError(f"{where}: the per-label thresholds {shown} are not numbers from 0 to 1; the "
                              "checkpoint is corrupt")


def _check_loader_state(checkpoint: dict[str, Any], where: str) -> None:
    """The resumable loaders' state (``loops.fit_loop.state_dict.combined_loader``): epochs and batch counts."""
    state = _get(checkpoint, "loops", "fit_loop", "state_dict", "combined_loader")
    if state is None:
        return
    counts = ("epoch", "batches_done")
    if not isinstance(state, list) or not all(
        isinstance(item, dict) and all(isinstance(item.get(k), int) and not isinstance(item.get(k), bool)
                                       and item[k] >= 0 for k in counts) for item in state):
        raise CheckpointError(f"{where}: the data loader state {state!r} is not a list of "
                              "{'epoch': n, 'batches_done': n} with whole numbers n >= 0")


def check_rng_state(state: Any, where: str = "the checkpoint's random state") -> None:
    """Raise a `CheckpointError` unless ``state`` is a random state `ResumeRNGState` can put back: a CPU
    generator state torch accepts and, if any, a list of CUDA generator states (uint8 tensors)."""
    cpu = state.get("torch") if isinstance(state, dict) else None
    valid = isinstance(cpu, torch.Tensor) and cpu.dtype == torch.uint8 and cpu.dim() == 1
    if valid:
        try:
            torch.Generator().set_state(cpu)
        except RuntimeError:
            valid = False
    cuda = state.get("cuda") if isinstance(state, dict) else None
    if cuda is not None and not (isinstance(cuda, (list, tuple)) and all(
            isinstance(t, torch.Tensor) and t.dtype == torch.uint8 and t.dim() == 1 for t in cuda)):
        valid = False
    if not valid:
        shown = f"a {cpu.dtype} tensor of shape {tuple(cpu.shape)}" if isinstance(cpu, torch.Tensor) else repr(state)[:80]
        raise CheckpointError(f"{where} is not a torch generator state (found {shown}; expected {{'torch': a uint8 "
                              f"tensor of {torch.get_rng_state().numel()} bytes}}); the checkpoint is corrupt")
