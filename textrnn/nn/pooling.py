"""Pooling over time: turn a padded sequence of encoder outputs (B, T, D) into one vector (B, D) per text,
looking only at each text's real positions.

``last`` takes the final state of each direction (the forward direction at the text's last token, the
backward direction at its first); ``max`` and ``mean`` pool every real position; ``attention`` learns a
weighted average (additive attention, as in Yang et al. 2016, "Hierarchical Attention Networks");
``concat`` joins ``last``, ``max`` and ``mean`` into one (B, 3D) vector, ULMFiT's concat pooling (Howard &
Ruder 2018).
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor, nn

from textrnn.nn.checks import check_size
from textrnn.nn.encoder import length_mask

Pooling = Literal["last", "max", "mean", "attention", "concat"]
POOLINGS: tuple[str, ...] = get_args(Pooling)


class TimePooling(nn.Module):
    """Pool (B, T, D) encoder outputs over the real time steps into (B, output_size): D, or 3D for ``concat``.

    Args:
        mode: ``"last"``, ``"max"``, ``"mean"``, ``"attention"`` or ``"concat"`` ([last, max, mean]).
        input_size: D, the feature size of the encoder outputs.
        num_directions: 2 when the features are [forward, backward] halves (used by ``last``).
    """

    def __init__(self, mode: Pooling = "max", input_size: int = 0, num_directions: int = 1) -> None:
        super().__init__()
        if mode not in POOLINGS:
            raise ValueError(f"Unknown pooling {mode!r}; valid choices are {POOLINGS}.")
        self.mode = mode
        self.num_directions = num_directions
        self.output_size = 3 * input_size if mode == "concat" else input_size
        if mode == "attention":
            check_size("input_size", input_size)
            self.proj = nn.Linear(input_size, input_size)
            self.context = nn.Linear(input_size, 1, bias=False)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        if self.mode == "concat":
            return torch.cat([self._pool(x, lengths, mode) for mode in ("last", "max", "mean")], dim=-1)  # (B, 3D)
        return self._pool(x, lengths, self.mode)

    def _pool(self, x: Tensor, lengths: Tensor, mode: str) -> Tensor:
        batch, max_len, dim = x.shape
        lengths = lengths.to(x.device)
        if mode == "last":
            last = (lengths - 1).view(batch, 1, 1).expand(batch, 1, dim)
            final = x.gather(1, last).squeeze(1)  # (B, D): the state at each text's last token
            if self.num_directions == 1:
                return final
            half = dim // 2
            # The backward direction ends at position 0, where it has read the whole text.
            return torch.cat([final[:, :half], x[:, 0, half:]], dim=-1)
        mask = length_mask(lengths, max_len).unsqueeze(-1)  # (B, T, 1)
        if mode == "max":
            return x.masked_fill(~mask, float("-inf")).amax(dim=1)
        if mode == "mean":
            return (x * mask).sum(dim=1) / lengths.unsqueeze(1).to(x.dtype)
        scores = self.context(torch.tanh(self.proj(x)))  # (B, T, 1)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=1)
        return (weights * x).sum(dim=1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
