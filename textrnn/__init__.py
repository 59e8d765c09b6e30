"""textrnn: Text-RNN (vanilla RNN, LSTM, GRU) and Text-CNN text classification, and sine-wave regression,
on PyTorch Lightning, over Hugging Face datasets and tokenizers."""

__version__ = "0.1.0"

from textrnn.inference.classifier import CheckpointError, Classifier, Prediction  # noqa: E402
from textrnn.inference.loading import load  # noqa: E402

__all__ = ["CheckpointError", "Classifier", "Prediction", "__version__", "load"]
