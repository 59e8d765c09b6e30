"""The convolutional text encoder of Kim (2014), "Convolutional Neural Networks for Sentence
Classification": parallel 1-D convolutions of several widths (n-gram detectors) over word embeddings,
ReLU, then pooling over time that only looks at windows starting inside the text: Kim's max (is the
n-gram anywhere?) or the mean (how much of the text is about it?).
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor, nn

from textrnn.nn.checks import check_size, check_sizes
from textrnn.nn.pooling import TimePooling

ConvPooling = Literal["max", "mean"]
CONV_POOLINGS: tuple[str, ...] = get_args(ConvPooling)


class ConvEncoder(nn.Module):
    """Kim-style n-gram convolutions: (B, T, input_size) -> (B, len(filter_sizes) * num_filters).

    Args:
        input_size: embedding size.
        filter_sizes: widths of the convolution windows, in tokens (Kim: 3, 4, 5).
        num_filters: feature maps per width (Kim: 100).
        pooling: ``"max"`` over time (Kim) or ``"mean"`` over the text's windows.
    """

    def __init__(
        self,
        input_size: int,
        filter_sizes: tuple[int, ...] = (3, 4, 5),
        num_filters: int = 100,
        pooling: ConvPooling = "max",
    ) -> None:
        super().__init__()
        if isinstance(filter_sizes, (str, bytes)) or not hasattr(filter_sizes, "__len__") or not filter_sizes:
            raise ValueError(f"filter_sizes must be a non-empty list of window widths in tokens, got {filter_sizes!r}")
        for k in filter_sizes:
            check_size("filter_sizes", k)
        check_sizes(input_size=input_size, num_filters=num_filters)
        if pooling not in CONV_POOLINGS:
            raise ValueError(f"Unknown pooling {pooling!r} for the convolutional encoder; valid choices are {CONV_POOLINGS}.")
        self.filter_sizes = tuple(filter_sizes)
        self.pool = TimePooling(pooling)
        self.convs = nn.ModuleList(nn.Conv1d(input_size, num_filters, k) for k in self.filter_sizes)
        self.output_size = len(self.filter_sizes) * num_filters

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """``x`` (B, T, E) right-padded with zero vectors, ``lengths`` (B,)."""
        widest = max(self.filter_sizes)
        if torch.jit.is_tracing():  # ONNX export: one graph for every length, so always pad; the windows
            x = nn.functional.pad(x, (0, 0, 0, widest - 1))  # this adds start past the text and are never pooled
        elif x.size(1) < widest:  # a batch of very short texts: pad so every width has one window
            x = nn.functional.pad(x, (0, 0, 0, widest - x.size(1)))
        lengths = lengths.to(x.device)
        x = x.transpose(1, 2)  # (B, E, T)
        pooled = []
        for k, conv in zip(self.filter_sizes, self.convs):
            features = torch.relu(conv(x))  # (B, F, T - k + 1)
            # Pool the windows that start inside the text; a text shorter than k keeps its first window,
            # which sees the zero padding exactly as it would in any batch.
            windows = (lengths - k + 1).clamp(min=1)  # (B,)
            pooled.append(self.pool(features.transpose(1, 2), windows))  # (B, F)
        return torch.cat(pooled, dim=1)
