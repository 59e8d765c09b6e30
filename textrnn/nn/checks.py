"""Argument checks shared by the models' and layers' constructors: sizes and probabilities, checked
before any tensor is allocated, each error naming the argument, the value given and what is valid.

Without them a size of 0 ends in "float division by zero" deep in an initialiser, -3 in a torch error
about a negative dimension, a dropout of 1.5 in torch's own message, and ``embedding_dim 0`` trains a
model whose every text is the same empty vector.
"""

from __future__ import annotations

import math
from typing import Any

MAX_SIZE = 1 << 20  # units, widths, filters: 1,048,576, thousands of times any model this suite trains
MAX_VOCAB = 1 << 24  # rows of an embedding table: 16.7 million words
MAX_LAYERS = 1000  # stacked recurrent layers


def check_size(name: str, value: Any, low: int = 1, high: int = MAX_SIZE) -> int:
    """``value`` if it is a whole number in [low, high], else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high:,}, got {value!r}")
    return value


def check_sizes(**sizes: Any) -> None:
    """`check_size` on each keyword argument, with the default bounds."""
    for name, value in sizes.items():
        check_size(name, value)


def check_probabilities(**probabilities: Any) -> None:
    """Each keyword argument must be a dropout probability in [0, 1); a ValueError names the first that is not."""
    for name, p in probabilities.items():
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1), got {p!r}")


def check_positive(name: str, value: Any, allow_zero: bool = False) -> None:
    """A finite number > 0 (>= 0 with ``allow_zero``), e.g. a learning rate or a weight decay."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
