"""LightningModules: the text classifiers and the sine regression."""

from textrnn.models.classifier import TextClassifier
from textrnn.models.sine import SineRNN
from textrnn.models.text_cnn import TextCNN
from textrnn.models.text_rnn import TextRNN

__all__ = ["SineRNN", "TextCNN", "TextClassifier", "TextRNN"]
