"""Plain torch building blocks (no Lightning): gate-by-gate cells, the recurrent and convolutional
encoders, and pooling over time."""

from textrnn.nn.cells import CELL_TYPES, GRUCell, LSTMCell, RNNCell, make_cell
from textrnn.nn.conv import ConvEncoder
from textrnn.nn.embedding import word_embedding
from textrnn.nn.encoder import IMPLEMENTATIONS, RecurrentEncoder
from textrnn.nn.pooling import POOLINGS, TimePooling

__all__ = [
    "CELL_TYPES",
    "IMPLEMENTATIONS",
    "POOLINGS",
    "ConvEncoder",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "RecurrentEncoder",
    "TimePooling",
    "make_cell",
    "word_embedding",
]
