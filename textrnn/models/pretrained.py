"""Start a `TextRNN` from a pretrained `LanguageModel` checkpoint: find the file, check it like every
checkpoint, check that it fits the classifier (architecture and vocabulary), and copy its embedding and
encoder in. Each mismatch is one error naming both values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

# The arguments a classifier must share with the language model to take its embedding and encoder.
SHARED_ARGS = ("embedding_dim", "hidden_size", "cell", "nonlinearity", "num_layers", "bidirectional", "init_state")


def resolve_pretrained(source: str) -> Path:
    """The checkpoint file ``source`` names: a file, or a run folder (``runs/lm_bilstm``: its newest
    ``version_*/checkpoints/last.ckpt``; a ``version_N`` folder: its ``checkpoints/last.ckpt``)."""
    from textrnn.data.text import newest_checkpoint

    return Path(newest_checkpoint(source))


@dataclass(frozen=True)
class PretrainedLM:
    """A language-model checkpoint, every value used checked: its file, constructor arguments, tokenizer
    and weights (``state_dict``, the shapes those arguments build)."""

    path: Path
    hparams: dict[str, Any]
    tokenizer: Any
    state_dict: dict[str, Any]
    level: str = "word"

    def build(self) -> Any:
        """The `LanguageModel` with these weights (eval mode)."""
        from textrnn.models.language_model import LanguageModel

        model = LanguageModel(**self.hparams)
        model.load_state_dict(self.state_dict)
        return model.eval()


def read_language_model(source: str) -> PretrainedLM:
    """The language-model checkpoint ``source`` names (`resolve_pretrained`), read with weights_only and
    checked: it must record a `LanguageModel`, arguments of that class's types, weights of the shapes they
    build and a tokenizer with one token per embedding row. One `CheckpointError` naming the value otherwise."""
    from textrnn.inference.fits import (
        CheckpointError, check_hparams, check_vocabulary, class_names, read_checkpoint, read_record, read_tokenizer,
        rebuild_checked,
    )
    from textrnn.models.language_model import LanguageModel

    path = resolve_pretrained(source)
    where = repr(str(path))
    checkpoint = read_checkpoint(path)
    hparams = checkpoint.get("hyper_parameters")
    record = read_record(checkpoint, where)
    recorded = [record.model_class if record is not None else None,
                hparams.get("_class_path") if isinstance(hparams, dict) else None]
    names = class_names(LanguageModel)
    wrong = [name for name in recorded if name is not None and name not in names]
    if wrong or not any(recorded):
        found = wrong[0] if wrong else "no model class"
        raise CheckpointError(f"{where} is not a language model (it names {found!r}); give a checkpoint "
                              "written by textrnn fit --config lm_bilstm (a LanguageModel)")
    hparams = check_hparams(LanguageModel, hparams if isinstance(hparams, dict) else {}, where)
    model = rebuild_checked(LanguageModel, hparams, checkpoint.get("state_dict"), where)
    if record is None or not record.has_data:
        raise CheckpointError(f"{where} holds no tokenizer (textrnn's record has none)")
    tokenizer = read_tokenizer(record.tokenizer, f"{where}: the stored tokenizer")
    check_vocabulary(model, tokenizer, f"{where}: the tokenizer")
    return PretrainedLM(path, hparams, tokenizer, checkpoint["state_dict"], record.level)


def tokenizer_signature(tokenizer: Any) -> str:
    """A tokenizer's JSON without its truncation: what decides which ids a text gets, whatever its length."""
    state = json.loads(tokenizer.to_str())
    state.pop("truncation", None)
    return json.dumps(state, sort_keys=True)


def load_pretrained_encoder(model: nn.Module, source: str, tokenizer: Optional[Any]) -> str:
    """Copy the embedding and encoder of the language model ``source`` into ``model`` (a `TextRNN`).

    Args:
        model: the classifier; its shared arguments (`SHARED_ARGS`) and vocabulary size must match.
        source: the language model's checkpoint file or run folder (`resolve_pretrained`).
        tokenizer: the classifier data's tokenizer; it must give the same ids as the language model's.

    Returns:
        A description of what was loaded, for the log.
    """
    from textrnn.inference.fits import CheckpointError

    lm = read_language_model(source)
    lm_args, where = lm.hparams, repr(str(lm.path))
    own = model.hparams
    wrong = [f"{name}: {lm_args.get(name)!r} there, {own.get(name)!r} here" for name in SHARED_ARGS
             if name in lm_args and lm_args[name] != own.get(name)]
    stacked = lm_args.get("bidirectional", True) and lm_args.get("num_layers", 1) > 1
    if stacked and not own.get("independent_directions"):
        wrong.append("independent_directions: the language model's stacked directions are independent; set "
                     "independent_directions: true here")
    if wrong:
        raise CheckpointError(f"the language model {where} does not fit this {type(model).__name__} ("
                              + "; ".join(wrong) + "); give the classifier the language model's architecture")
    if tokenizer is not None and tokenizer_signature(tokenizer) != tokenizer_signature(lm.tokenizer):
        raise CheckpointError(
            f"the data's vocabulary ({tokenizer.get_vocab_size()} tokens) is not the language model's "
            f"({lm.tokenizer.get_vocab_size()} tokens, {where}); fine-tune with its tokenizer: "
            f"--data.init_args.tokenizer_from {str(lm.path)!r} (the CLI sets it from --model.init_args.pretrained)")
    weights = lm.state_dict
    own_state = model.state_dict()
    copied = 0
    with torch.no_grad():
        for name, tensor in weights.items():
            if name.startswith(("embedding.", "encoder.")):
                if name not in own_state or own_state[name].shape != tensor.shape:
                    shape = tuple(own_state[name].shape) if name in own_state else "missing"
                    raise CheckpointError(f"the language model {where}'s {name} {tuple(tensor.shape)} does not fit "
                                          f"this model's ({shape})")
                own_state[name].copy_(tensor)
                copied += tensor.numel()
    return f"{where}: {copied:,} weights of the embedding and encoder"
