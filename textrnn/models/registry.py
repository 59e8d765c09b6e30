"""The model classes textrnn builds by name: the allow-list for checkpoints, configs and exports.

A checkpoint (the ``model_class`` of textrnn's record, or Lightning's ``_class_path``), an exported ``model.json`` and
``--model NAME`` name a class; only the classes here are ever built, looked up by name, never imported
from a name. A new model is one import and one entry in `MODELS`.
"""

from __future__ import annotations

from textrnn.models.language_model import LanguageModel
from textrnn.models.sine import SineRNN
from textrnn.models.text_cnn import TextCNN
from textrnn.models.text_rnn import TextRNN

MODELS: dict[str, type] = {cls.__name__: cls for cls in (TextRNN, TextCNN, SineRNN, LanguageModel)}


def model_classes() -> dict[str, type]:
    """textrnn's own model classes, by every name a checkpoint or a config writes them with:
    ``TextRNN``, ``textrnn.models.TextRNN`` and ``textrnn.models.text_rnn.TextRNN``."""
    classes = {}
    for name, cls in MODELS.items():
        for alias in (name, f"textrnn.models.{name}", f"{cls.__module__}.{cls.__qualname__}"):
            classes[alias] = cls
    return classes


def model_path(cls: type) -> str:
    """The class path a config names ``cls`` by, e.g. ``textrnn.models.TextRNN``."""
    return f"textrnn.models.{cls.__name__}"
