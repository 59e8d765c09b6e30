"""Classify raw text with a trained checkpoint alone: ``textrnn.load(path).predict(texts)``.

A textrnn checkpoint carries everything needed, as tensors and plain types: its constructor arguments
under ``"hyper_parameters"``, its weights under ``"state_dict"``, and textrnn's record under ``"textrnn"``
(`textrnn.artifact`: the model's class path, the trained tokenizer, the label names and max_length).
So `load` needs no config file, no data set and no network, and reads the file with
``torch.load(weights_only=True)``: a checkpoint that would run pickled code is refused, and every value
in it is checked by `textrnn.inference.checkpoints.check_checkpoint` before use: only textrnn's own
text classifiers are built, from arguments whose sizes fit the stored weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import torch
from tokenizers import Tokenizer

from textrnn.artifact import KEY
from textrnn.inference.checkpoints import CheckpointError, check_checkpoint, read_checkpoint
from textrnn.data.batching import raw_batches
from textrnn.models.classifier import TextClassifier
from textrnn.models.multilabel import check_threshold, decide

REQUIRED_KEYS = ("hyper_parameters", "state_dict")  # and textrnn's record (or schema 0's two keys)


@dataclass(frozen=True)
class Prediction:
    """The class chosen for one text.

    Attributes:
        label: the most probable class name.
        confidence: its probability.
        probs: the probability of every class, by name, in the model's class order (they sum to 1; for a
            multi-label model each is that label's own sigmoid probability).
        labels: the labels chosen, in the model's label order: for a multi-label model those at or above
            their thresholds (tuned on validation and stored in the checkpoint), or the ``top_k`` most
            probable; for a single-label model ``[label]`` (or its ``top_k`` most probable classes).
    """

    label: str
    confidence: float
    probs: dict[str, float]
    labels: list[str] = field(default_factory=list)


def available_devices() -> list[str]:
    """The devices a model can run on here: "cpu", then "cuda" and "cuda:N" for each GPU, and "mps"."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += ["cuda", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def resolve_device(device: Union[str, torch.device, None] = None) -> torch.device:
    """``device`` as a torch.device; None picks "cuda" when available, else "cpu". A device that is not
    there (``"cuda"`` without a GPU, ``"cuda:3"`` with two) or cannot hold a model's weights (``"meta"``)
    is a ValueError listing the valid ones."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    valid = available_devices()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        resolved = None
    if resolved is None or resolved.type not in {name.split(":")[0] for name in valid} or (
        resolved.type == "cuda" and resolved.index is not None and f"cuda:{resolved.index}" not in valid
    ):
        raise ValueError(f"unknown device {str(device)!r} (not one this machine can run a model on); "
                         f"valid devices here: {', '.join(valid)}")
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
        self.multi_label = bool(getattr(model, "multi_label", False))
        # A multi-label model's per-label decision thresholds (its checkpoint's, tuned on validation).
        self.thresholds = [float(t) for t in model.thresholds.tolist()] if self.multi_label else None

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
                probs[rows] = self._probs(batch["ids"], batch["lengths"])
        return probs

    def _probs(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, C) on the CPU of one padded batch: ``ids`` (B, T), ``lengths`` (B,)."""
        logits = self.model(ids.to(self.device), lengths.to(self.device))  # (B, C)
        return (logits.float().sigmoid() if self.multi_label else logits.float().softmax(dim=-1)).cpu()

    def choose(self, probs: Union[torch.Tensor, Sequence[Sequence[float]]], top_k: Union[int, None] = None,
               threshold: Union[float, None] = None) -> list[list[str]]:
        """The labels chosen for each row of ``probs`` (N, C), in label order: multi-label, those at or above
        the stored per-label thresholds (or ``threshold`` for all labels), or the ``top_k`` most probable;
        single-label, the most probable class (or the ``top_k`` most probable)."""
        probs = torch.as_tensor(probs, dtype=torch.float32).reshape(-1, self.num_classes)
        if threshold is not None:
            if not self.multi_label:
                raise ValueError("threshold applies to multi-label models; this one is single-label (use top_k)")
            check_threshold(threshold)
        if self.multi_label:
            chosen = decide(probs, self.thresholds if threshold is None else threshold, top_k)
        else:
            chosen = decide(probs, 2.0, top_k if top_k is not None else 1)  # 2.0: no threshold, top k only
        return [[self.label_names[j] for j in range(self.num_classes) if row[j]] for row in chosen]

    def predict(self, texts: Union[str, Sequence[str]], batch_size: int = 64, top_k: Union[int, None] = None,
                threshold: Union[float, None] = None) -> list[Prediction]:
        """One `Prediction` per text, in the order given; a single string is one text.

        Args:
            texts: raw texts (any length; an empty string still gets a prediction).
            batch_size: texts per forward pass.
            top_k: choose the k most probable labels instead of thresholding (``Prediction.labels``).
            threshold: multi-label: one threshold for every label instead of the stored per-label ones.
        """
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool)
                                  or not 1 <= top_k <= self.num_classes):
            raise ValueError(f"top_k must be an integer from 1 to the number of labels ({self.num_classes}), got {top_k!r}")
        if threshold is not None:  # a bad value fails before the texts are run
            self.choose(torch.zeros(0, self.num_classes), threshold=threshold)
        probs = self.predict_proba(texts, batch_size)  # (N, C)
        chosen = self.choose(probs, top_k, threshold)
        predictions = []
        for row, labels in zip(probs.tolist(), chosen):
            best = max(range(len(row)), key=row.__getitem__)
            predictions.append(Prediction(self.label_names[best], row[best], dict(zip(self.label_names, row)), labels))
        return predictions

    def __repr__(self) -> str:
        kind = ", multi_label=True" if self.multi_label else ""
        return f"Classifier({type(self.model).__name__}, labels={self.label_names}{kind}, device={str(self.device)!r})"


def _as_texts(texts: Union[str, Sequence[str]]) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is a {type(text).__name__} ({text!r}), not a string")
    return texts


def load_checkpoint(path: Union[str, Path], device: Union[str, torch.device, None] = None) -> Classifier:
    """Rebuild a trained classifier from a textrnn checkpoint file alone (`textrnn.load` of a ``.ckpt``).

    Args:
        path: a ``.ckpt`` written while training a textrnn text classifier (e.g. ``best-....ckpt``).
        device: where the model runs; None picks "cuda" when available, else "cpu".

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: (a ValueError) the file is truncated or corrupt, is not a textrnn checkpoint
            (the message names the missing keys), carries pickled objects, names a model class outside
            textrnn's own text classifiers, or any value in it fails `check_checkpoint` (arguments,
            sizes, weights, vocabulary, label names, loader or random state).
    """
    path = Path(path)
    where = repr(str(path))
    device = resolve_device(device)  # a bad device fails before the file is read
    checkpoint = read_checkpoint(path, map_location="cpu")
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if KEY not in checkpoint and "textrnn_model" not in checkpoint:  # neither the record nor schema 0's key
        missing.append(KEY)
    if missing:
        raise CheckpointError(
            f"{where} is not a textrnn checkpoint: it lacks {missing}; keys found: {sorted(map(str, checkpoint))}"
        )
    checked = check_checkpoint(checkpoint, where, base=TextClassifier, require_data=True)
    model = checked.model_class(**checked.hparams)  # sizes already known to fit the stored weights
    model.load_state_dict(checkpoint["state_dict"])
    return Classifier(model, checked.tokenizer, checked.label_names, device)
