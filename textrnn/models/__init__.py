"""LightningModules: the text classifiers, the language model that pretrains them, and the sine regression."""

from textrnn.models.classifier import TextClassifier
from textrnn.models.language_model import LanguageModel
from textrnn.models.sine import SineRNN
from textrnn.models.text_cnn import TextCNN
from textrnn.models.text_rnn import TextRNN

__all__ = ["LanguageModel", "SineRNN", "TextCNN", "TextClassifier", "TextRNN"]
