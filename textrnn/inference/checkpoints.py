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
- `check_fits`: a checkpoint's vocabulary and weights must fit the model they are loaded into.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch import nn

if TYPE_CHECKING:
    from tokenizers import Tokenizer

PathLike = Union[str, Path]
PACKAGE_PREFIX = "textrnn."  # the only package whose classes a checkpoint may name


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing pieces, truncated or corrupt, unsafe, or not this model's."""


def read_checkpoint(path: PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """The checkpoint dict ``torch.load(path, weights_only=True)`` reads, or a `CheckpointError` saying in
    one sentence why not.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: a folder, a truncated or corrupt file, one that holds pickled Python objects
            beyond tensors and plain types (refused: unpickling them could run code), or one that holds
            something other than a dict.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")
    if not path.is_file():
        raise CheckpointError(f"{str(path)!r} is not a file; give the path of a .ckpt file")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only load failed" not in str(err).lower():
            raise CheckpointError(f"{str(path)!r} is not a readable checkpoint (truncated or corrupt): {err}") from err
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
        detail = f"found {found.group(1)}" if found else "refused by weights_only=True"
        raise CheckpointError(
            f"{str(path)!r} holds pickled Python objects beyond tensors and plain types ({detail}); "
            "textrnn checkpoints never do, so it is refused (it could run code when loaded)"
        ) from None
    except Exception as err:  # zip, EOF, OS and unpickling errors of truncated or foreign files
        raise CheckpointError(
            f"{str(path)!r} is not a readable PyTorch checkpoint (truncated or corrupt?): {type(err).__name__}: {err}"
        ) from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{str(path)!r} holds a {type(checkpoint).__name__}, not a checkpoint dict")
    return checkpoint


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0o666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_torch_save(obj: Any, path: PathLike) -> None:
    """``torch.save(obj, path)`` that never leaves a partial file at ``path``: temp file, fsync, replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temp, _new_file_mode())  # mkstemp makes it 0600; follow the umask like every other run file
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's `TorchCheckpointIO` with atomic local writes and weights-only reads with clear errors.

    Remote paths (``s3://`` and other fsspec URLs) keep Lightning's own writer.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: PathLike, storage_options: Optional[Any] = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        atomic_torch_save(checkpoint, path)

    def load_checkpoint(
        self, path: PathLike, map_location: Any = "cpu", weights_only: Optional[bool] = None
    ) -> dict[str, Any]:
        if weights_only is False or "://" in str(path):  # an explicit opt-out, or a remote file
            return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)
        return read_checkpoint(path, map_location=map_location)


def check_fits(model: nn.Module, checkpoint: dict[str, Any], where: str = "the checkpoint") -> None:
    """Raise a `CheckpointError` unless ``checkpoint``'s weights have ``model``'s shapes and its stored
    tokenizer (``checkpoint["TextDataModule"]["tokenizer"]``, if any) has as many tokens as the model's
    embedding has rows. Catches a vocabulary swapped in from another run, which would otherwise feed ids
    of one vocabulary into the embedding of another: no error, just wrong predictions."""
    weights = checkpoint.get("state_dict")
    if not isinstance(weights, dict):
        raise CheckpointError(f"{where} has no 'state_dict' of weights; keys found: {sorted(map(str, checkpoint))}")
    own = model.state_dict()
    wrong = [
        f"{name} {tuple(weights[name].shape)} vs {tuple(tensor.shape)}"
        for name, tensor in own.items()
        if name in weights and isinstance(weights[name], torch.Tensor) and weights[name].shape != tensor.shape
    ]
    if wrong:
        raise CheckpointError(
            f"the weights in {where} do not fit this {type(model).__name__} (checkpoint vs model: "
            f"{'; '.join(wrong[:3])}); build the model with the arguments it was trained with, e.g. its run's config.yaml"
        )
    data = checkpoint.get("TextDataModule")
    if not isinstance(data, dict) or "tokenizer" not in data or first_embedding(model) is None:
        return
    tokenizer = read_tokenizer(data["tokenizer"], f"the tokenizer stored in {where}")
    check_vocabulary(model, tokenizer, f"the tokenizer in {where}")


def read_tokenizer(text: str, subject: str = "the stored tokenizer") -> "Tokenizer":
    """The tokenizer a checkpoint stores as JSON, or a `CheckpointError` saying that ``subject`` cannot be read."""
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_str(text)
    except Exception as err:  # tokenizers raises its own Exception type for a bad JSON string
        raise CheckpointError(f"{subject} cannot be read: {err}") from err


def first_embedding(model: nn.Module) -> Optional[nn.Embedding]:
    """The model's word embedding (its first `nn.Embedding`), or None."""
    return next((module for module in model.modules() if isinstance(module, nn.Embedding)), None)


def check_vocabulary(model: nn.Module, tokenizer: "Tokenizer", subject: str = "the tokenizer") -> None:
    """Raise a `CheckpointError` unless ``tokenizer`` has one token per row of ``model``'s embedding
    (``subject`` names the tokenizer in the message)."""
    embedding = first_embedding(model)
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    if embedding is not None and vocab_size != embedding.num_embeddings:
        raise CheckpointError(
            f"{subject} has {vocab_size} tokens but the model's embedding has {embedding.num_embeddings} rows; "
            "the vocabulary does not belong to these weights"
        )
