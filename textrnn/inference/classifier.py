"""Classify raw text with a trained checkpoint alone: ``textrnn.load(path).predict(texts)``.

A textrnn checkpoint carries everything needed, as tensors and plain types (see
``TextClassifier.on_save_checkpoint`` and ``TextDataModule.state_dict``): the model's class path under
``"textrnn_model"``, its constructor arguments under ``"hyper_parameters"``, its weights under
``"state_dict"``, and the trained tokenizer (a JSON string) and label names under ``"TextDataModule"``.
So `load` needs no config file, no data set and no network, and reads the file with
``torch.load(weights_only=True)``: a checkpoint that would run pickled code is refused, and only model
classes defined inside the ``textrnn`` package are ever built.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import torch
from tokenizers import Tokenizer

from textrnn.inference.checkpoints import PACKAGE_PREFIX, CheckpointError, check_vocabulary, read_checkpoint, read_tokenizer
from textrnn.data.batching import raw_batches
from textrnn.models.classifier import TextClassifier

REQUIRED_KEYS = ("textrnn_model", "hyper_parameters", "state_dict", "TextDataModule")
REQUIRED_DATA_KEYS = ("tokenizer", "label_names")


@dataclass(frozen=True)
class Prediction:
    """The class chosen for one text.

    Attributes:
        label: the most probable class name.
        confidence: its probability.
        probs: the probability of every class, by name, in the model's class order (they sum to 1).
    """

    label: str
    confidence: float
    probs: dict[str, float]


def resolve_device(device: Union[str, torch.device, None] = None) -> torch.device:
    """``device`` as a torch.device; None picks "cuda" when available, else "cpu"."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}; valid devices look like 'cpu', 'cuda' or 'cuda:0'") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but CUDA is not available here; use device='cpu'")
    return resolved


class Classifier:
    """A trained text classifier ready for raw text: model (eval mode), tokenizer and label names.

    Build one with `textrnn.load`. ``predict`` tokenizes exactly as training did (the same tokenizer,
    truncation included), sorts the texts by length so batches pad little, and returns the results in
    the order given.

    Args:
        model: a `TextClassifier` whose ``forward(ids, lengths)`` returns logits (B, num_classes).
        tokenizer: the vocabulary the model was trained with.
        label_names: class names; logit i is label_names[i].
        device: where the model runs; None picks "cuda" when available, else "cpu".
    """

    def __init__(
        self,
        model: TextClassifier,
        tokenizer: Tokenizer,
        label_names: Sequence[str],
        device: Union[str, torch.device, None] = None,
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.label_names = [str(name) for name in label_names]
        self.pad_id = int(getattr(model.hparams, "pad_id", 0))

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def predict_proba(self, texts: Union[str, Sequence[str]], batch_size: int = 64) -> torch.Tensor:
        """Class probabilities (N, num_classes) on the CPU, row i for texts[i]; a string is one text."""
        texts = _as_texts(texts)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        probs = torch.empty(len(texts), self.num_classes)  # (N, C)
        if not texts:
            return probs
        with torch.inference_mode():  # batches longest first; empty texts are one [UNK] token
            for rows, batch in raw_batches(self.tokenizer, texts, batch_size, self.pad_id):
                logits = self.model(batch["ids"].to(self.device), batch["lengths"].to(self.device))  # (B, C)
                probs[rows] = logits.float().softmax(dim=-1).cpu()
        return probs

    def predict(self, texts: Union[str, Sequence[str]], batch_size: int = 64) -> list[Prediction]:
        """One `Prediction` per text, in the order given; a single string is one text.

        Args:
            texts: raw texts (any length; an empty string still gets a prediction).
            batch_size: texts per forward pass.
        """
        probs = self.predict_proba(texts, batch_size)  # (N, C)
        predictions = []
        for row in probs.tolist():
            best = max(range(len(row)), key=row.__getitem__)
            predictions.append(Prediction(self.label_names[best], row[best], dict(zip(self.label_names, row))))
        return predictions

    def __repr__(self) -> str:
        return f"Classifier({type(self.model).__name__}, labels={self.label_names}, device={str(self.device)!r})"


def _as_texts(texts: Union[str, Sequence[str]]) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is a {type(text).__name__} ({text!r}), not a string")
    return texts


def _read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint dict, read with weights_only=True, or one clear error saying why not."""
    checkpoint = read_checkpoint(path, map_location="cpu")
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(
            f"{str(path)!r} is not a textrnn checkpoint: it lacks {missing}; keys found: {sorted(map(str, checkpoint))}"
        )
    data = checkpoint["TextDataModule"]
    missing = [key for key in REQUIRED_DATA_KEYS if not isinstance(data, dict) or key not in data]
    if missing:
        found = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{str(path)!r}: its 'TextDataModule' state lacks {missing}; found: {found}")
    return checkpoint


def model_class(class_path: Any) -> type[TextClassifier]:
    """The `TextClassifier` subclass named by ``class_path``, which must lie inside the textrnn package."""
    if not isinstance(class_path, str) or not class_path.startswith(PACKAGE_PREFIX) or "." not in class_path:
        raise CheckpointError(
            f"refusing model class {class_path!r}: only TextClassifier subclasses inside the 'textrnn' package "
            "are built from checkpoints (e.g. 'textrnn.models.text_rnn.TextRNN')"
        )
    module_name, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise CheckpointError(f"model class {class_path!r} does not exist in this textrnn version: {err}") from err
    if not (isinstance(cls, type) and issubclass(cls, TextClassifier)):
        raise CheckpointError(f"refusing model class {class_path!r}: it is not a textrnn TextClassifier subclass")
    return cls


def load(path: Union[str, Path], device: Union[str, torch.device, None] = None) -> Classifier:
    """Rebuild a trained classifier from a textrnn checkpoint file alone.

    Args:
        path: a ``.ckpt`` written while training a textrnn text classifier (e.g. ``best-....ckpt``).
        device: where the model runs; None picks "cuda" when available, else "cpu".

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: (a ValueError) the file is truncated or corrupt, is not a textrnn checkpoint
            (the message names the missing keys), carries pickled objects, names a model class outside
            textrnn, or its vocabulary or label names do not fit the model's weights.
    """
    path = Path(path)
    checkpoint = _read_checkpoint(path)
    cls = model_class(checkpoint["textrnn_model"])
    for key in ("hyper_parameters", "state_dict"):
        if not isinstance(checkpoint[key], dict):
            raise CheckpointError(f"{str(path)!r}: its {key!r} is a {type(checkpoint[key]).__name__}, not a dict")
    # Lightning adds its own keys ("_class_path", "_instantiator"); the constructor takes the rest.
    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if not str(k).startswith("_")}
    try:
        model = cls(**hparams)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{str(path)!r}: cannot rebuild {cls.__name__} from its hyper_parameters: {err}") from err
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, TypeError) as err:
        raise CheckpointError(f"{str(path)!r}: the weights do not fit {cls.__name__}({hparams}): {err}") from err

    data = checkpoint["TextDataModule"]
    tokenizer = read_tokenizer(data["tokenizer"], f"{str(path)!r}: the stored tokenizer")
    check_vocabulary(model, tokenizer, f"{str(path)!r}: the tokenizer")
    label_names = list(data["label_names"])
    num_classes = hparams.get("num_classes", len(label_names))
    if len(label_names) != num_classes:
        raise CheckpointError(
            f"{str(path)!r}: {len(label_names)} label names {label_names} for a model of {num_classes} classes"
        )
    return Classifier(model, tokenizer, label_names, device)
