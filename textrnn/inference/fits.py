"""The checks a model runs on a checkpoint loaded into it: its class, weights and vocabulary must fit.

The models import this module (``TextClassifier.on_load_checkpoint``), so it imports no model class and
nothing that does: the recorded class is compared with the model's own by name. textrnn's record in a
checkpoint is `textrnn.artifact`'s; the models write and read it through `save_record` and `restore_data`
here. `textrnn.inference.checkpoints` re-exports everything.
"""

from __future__ import annotations

import inspect
import math
import pickle
import re
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import torch
from torch import nn

from textrnn.artifact import CheckpointError, read_record, write_record  # noqa: F401  (CheckpointError re-exported)

if TYPE_CHECKING:
    from tokenizers import Tokenizer


LIGHTNING_KEYS = ("_class_path", "_instantiator")  # what LightningCLI adds to the hyper-parameters


def save_record(model: nn.Module, checkpoint: dict[str, Any], task: str) -> None:
    """A model's ``on_save_checkpoint``: textrnn's record (`textrnn.artifact`) with the model's class, its
    task and the state of the data module it trained on, which moves out of Lightning's own entry."""
    datamodule = getattr(getattr(model, "_trainer", None), "datamodule", None)
    data_key = type(datamodule).__qualname__ if datamodule is not None else None
    write_record(checkpoint, f"{type(model).__module__}.{type(model).__qualname__}", task, data_key)


def restore_data(model: nn.Module, checkpoint: dict[str, Any]) -> None:
    """A model's ``on_load_checkpoint`` in a Trainer (``--ckpt_path``, resume): the data module gets the
    record's tokenizer and label names, as Lightning gives a data module the state stored under its name."""
    datamodule = getattr(getattr(model, "_trainer", None), "datamodule", None)
    record = read_record(checkpoint)
    if record is not None and record.has_data and hasattr(datamodule, "load_state_dict"):
        datamodule.load_state_dict(record.data_state())


def class_names(cls: type) -> set[str]:
    """Every name a checkpoint records ``cls`` by: ``TextRNN``, ``textrnn.models.TextRNN`` and its full path."""
    return {cls.__name__, f"textrnn.models.{cls.__name__}", f"{cls.__module__}.{cls.__qualname__}"}


def check_fits(model: nn.Module, checkpoint: dict[str, Any], where: str = "the checkpoint") -> None:
    """Raise a `CheckpointError` unless ``checkpoint`` records ``model``'s class (when it records one),
    its weights have ``model``'s shapes and its stored tokenizer (in textrnn's record, if any) has as many tokens as the model's embedding has rows. Catches a TextCNN checkpoint resumed
    into a TextRNN, and a vocabulary swapped in from another run, which would otherwise feed ids of one
    vocabulary into the embedding of another: no error, just wrong predictions."""
    record = read_record(checkpoint, where)
    recorded = record.model_class if record is not None else None
    if recorded is not None and recorded not in class_names(type(model)):
        shown = recorded.rpartition(".")[2] if isinstance(recorded, str) else repr(recorded)
        raise CheckpointError(f"{where} holds a {shown} but the model here is a "
                              f"{type(model).__name__}; use the config the checkpoint was trained with")
    check_weights(model, checkpoint.get("state_dict"), where)
    if record is None or not record.has_data or first_embedding(model) is None:
        return
    tokenizer = read_tokenizer(record.tokenizer, f"the tokenizer stored in {where}")
    check_vocabulary(model, tokenizer, f"the tokenizer in {where}")


def check_weights(model: nn.Module, weights: Any, where: str, strict: bool = False) -> None:
    """Raise a `CheckpointError` unless every tensor of ``weights`` that ``model`` also has is of the same
    shape (``strict``: and the two hold the same names)."""
    if not isinstance(weights, dict):
        raise CheckpointError(f"{where} has no 'state_dict' of weights (found {type(weights).__name__})")
    own = model.state_dict()
    wrong = [
        f"{name} {tuple(weights[name].shape) if isinstance(weights[name], torch.Tensor) else type(weights[name]).__name__}"
        f" vs {tuple(tensor.shape)}"
        for name, tensor in own.items()
        if name in weights and not (isinstance(weights[name], torch.Tensor) and weights[name].shape == tensor.shape)
    ]
    if strict:
        wrong += [f"{name} missing" for name in own if name not in weights]
        wrong += [f"{name!s} not in the model" for name in weights if name not in own]
    if wrong:
        raise CheckpointError(
            f"the weights in {where} do not fit this {type(model).__name__} (checkpoint vs model: "
            f"{'; '.join(wrong[:3])}); build the model with the arguments it was trained with, e.g. its run's config.yaml"
        )


def rebuild_checked(cls: type, hparams: Any, weights: Any, where: str) -> nn.Module:
    """``cls`` built on the ``meta`` device from ``hparams`` checked by `check_hparams`, its shapes compared
    with ``weights`` (strict): nothing is allocated before the sizes match. Returns the meta-device model;
    a `CheckpointError` naming the value otherwise."""
    hparams = check_hparams(cls, hparams, where)
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated before they match the stored weights
            model = cls(**hparams)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: cannot rebuild {cls.__name__} from its hyper_parameters: {err}") from None
    check_weights(model, weights, where, strict=True)
    return model


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


# ---- reading a checkpoint file and its constructor arguments (no model class needed) ------------------


def read_checkpoint(path: Union[str, Path], map_location: Any = "cpu") -> dict[str, Any]:
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


def check_hparams(cls: type, hparams: Any, where: str) -> dict[str, Any]:
    """``hparams`` as ``cls``'s constructor arguments: known names only, each a plain value of its annotated
    type. Lightning's own keys (``_class_path``, ``_instantiator``) are dropped; any other key is refused."""
    if not isinstance(hparams, dict):
        raise CheckpointError(f"{where}: its 'hyper_parameters' is a {type(hparams).__name__}, not a dict")
    params = [name for name, p in inspect.signature(cls.__init__).parameters.items()
              if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    hints = typing.get_type_hints(cls.__init__)
    checked = {}
    for name, value in hparams.items():
        if name in LIGHTNING_KEYS:
            continue
        if name not in params:
            raise CheckpointError(f"{where}: hyper_parameters holds {name!r}, which is not an argument of "
                                  f"{cls.__name__}; valid: {', '.join(params)}")
        hint = hints.get(name)
        if not _fits_type(value, hint):
            raise CheckpointError(f"{where}: hyper_parameters {name!r} is {value!r} ({type(value).__name__}); "
                                  f"{cls.__name__} takes {_type_name(hint)}")
        checked[name] = list(value) if isinstance(value, (list, tuple)) else value
    return checked


def _type_name(hint: Any) -> str:
    """``int``, ``bool``, ... or, for a choice, ``one of 'rnn', 'lstm', 'gru'``."""
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    return getattr(hint, "__name__", None) or str(hint)


def _fits_type(value: Any, hint: Any) -> bool:
    """Whether ``value`` is a plain value of the annotation ``hint`` (bool is no int; floats are finite)."""
    if hint is bool or hint is str:
        return isinstance(value, hint)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if typing.get_origin(hint) is typing.Literal:  # a choice: cell, pooling, optimizer, ...
        return value in typing.get_args(hint)
    if typing.get_origin(hint) in (tuple, list):
        return isinstance(value, (tuple, list)) and all(_fits_type(v, typing.get_args(hint)[0]) for v in value)
    if typing.get_origin(hint) in (Union, types.UnionType):  # Optional[X], X | None
        return any(_fits_type(value, arg) for arg in typing.get_args(hint))
    return value is None if hint is type(None) else isinstance(value, (bool, int, float, str, type(None)))
