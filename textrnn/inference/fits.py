"""The checks a model runs on a checkpoint loaded into it: its class, weights and vocabulary must fit.

The models import this module (``TextClassifier.on_load_checkpoint``), so it imports no model class and
nothing that does: the recorded class is compared with the model's own by name. `CheckpointError` lives
here for the same reason; `textrnn.inference.checkpoints` re-exports everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import torch
from torch import nn

if TYPE_CHECKING:
    from tokenizers import Tokenizer


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing pieces, truncated or corrupt, unsafe, or not this model's."""


def class_names(cls: type) -> set[str]:
    """Every name a checkpoint records ``cls`` by: ``TextRNN``, ``textrnn.models.TextRNN`` and its full path."""
    return {cls.__name__, f"textrnn.models.{cls.__name__}", f"{cls.__module__}.{cls.__qualname__}"}


def check_fits(model: nn.Module, checkpoint: dict[str, Any], where: str = "the checkpoint") -> None:
    """Raise a `CheckpointError` unless ``checkpoint`` records ``model``'s class (when it records one),
    its weights have ``model``'s shapes and its stored tokenizer (``checkpoint["TextDataModule"]["tokenizer"]``,
    if any) has as many tokens as the model's embedding has rows. Catches a TextCNN checkpoint resumed
    into a TextRNN, and a vocabulary swapped in from another run, which would otherwise feed ids of one
    vocabulary into the embedding of another: no error, just wrong predictions."""
    recorded = checkpoint.get("textrnn_model")
    if recorded is not None and recorded not in class_names(type(model)):
        shown = recorded.rpartition(".")[2] if isinstance(recorded, str) else repr(recorded)
        raise CheckpointError(f"{where} holds a {shown} but the model here is a "
                              f"{type(model).__name__}; use the config the checkpoint was trained with")
    check_weights(model, checkpoint.get("state_dict"), where)
    data = checkpoint.get("TextDataModule")
    if not isinstance(data, dict) or "tokenizer" not in data or first_embedding(model) is None:
        return
    tokenizer = read_tokenizer(data["tokenizer"], f"the tokenizer stored in {where}")
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
