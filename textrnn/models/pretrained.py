"""Start a `TextRNN` from a pretrained `LanguageModel` checkpoint: find the file, check it like every
checkpoint, check that it fits the classifier (architecture and vocabulary), and copy its embedding and
encoder in. Each mismatch is one error naming both values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

# The arguments a classifier must share with the language model to take its embedding and encoder.
SHARED_ARGS = ("embedding_dim", "hidden_size", "cell", "nonlinearity", "num_layers", "bidirectional", "init_state")


def resolve_pretrained(source: str) -> Path:
    """The checkpoint file ``source`` names: a file, or a run folder (``runs/lm_bilstm``: its newest
    ``version_*/checkpoints/last.ckpt``; a ``version_N`` folder: its ``checkpoints/last.ckpt``)."""
    path = Path(source).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if (path / "checkpoints" / "last.ckpt").is_file():
            return path / "checkpoints" / "last.ckpt"
        runs = {}
        for found in path.glob("version_*/checkpoints/last.ckpt"):
            version = found.parts[-3].removeprefix("version_")
            if version.isdigit():
                runs[int(version)] = found
        if runs:
            return runs[max(runs)]
        raise FileNotFoundError(f"pretrained {source!r} is a folder without version_*/checkpoints/last.ckpt; "
                                "train the language model first (textrnn fit --config lm_bilstm) or give a .ckpt file")
    raise FileNotFoundError(f"pretrained {source!r}: no such file or folder; train the language model first "
                            "(textrnn fit --config lm_bilstm) or give the path of its .ckpt file")


def read_language_model(source: str) -> tuple[Path, Any, Any]:
    """The checked language-model checkpoint ``source`` names: (path, `CheckedCheckpoint`, the raw dict)."""
    from textrnn.inference.checkpoints import check_checkpoint, read_checkpoint
    from textrnn.models.language_model import LanguageModel

    path = resolve_pretrained(source)
    checkpoint = read_checkpoint(path)
    checked = check_checkpoint(checkpoint, repr(str(path)), expected=LanguageModel, require_data=True)
    return path, checked, checkpoint


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
    from textrnn.inference.checkpoints import CheckpointError

    path, checked, checkpoint = read_language_model(source)
    lm_args, where = checked.hparams, repr(str(path))
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
    if tokenizer is not None and tokenizer_signature(tokenizer) != tokenizer_signature(checked.tokenizer):
        raise CheckpointError(
            f"the data's vocabulary ({tokenizer.get_vocab_size()} tokens) is not the language model's "
            f"({checked.tokenizer.get_vocab_size()} tokens, {where}); fine-tune with its tokenizer: "
            f"--data.init_args.tokenizer_from {str(path)!r} (the CLI sets it from --model.init_args.pretrained)")
    weights = checkpoint["state_dict"]
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
