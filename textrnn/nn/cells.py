"""Recurrent cells written gate by gate: vanilla RNN (Elman 1990), LSTM (Hochreiter & Schmidhuber 1997,
with the forget gate of Gers et al. 2000) and GRU (Cho et al. 2014).

These are the readable reference. Each cell keeps torch's parameter layout (``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``, gates stacked in torch's order), so a cell loads the weights of the matching
``torch.nn.*Cell`` and vice versa, and the recurrent encoder can hand the very same tensors to torch's
fused kernels (see ``textrnn/nn/encoder.py``).
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
from torch import Tensor, nn

from textrnn.nn.checks import check_sizes

Cell = Literal["rnn", "lstm", "gru"]  # typed choices: `textrnn fit --help` lists them, the CLI rejects others
Nonlinearity = Literal["tanh", "relu"]
CELL_TYPES: tuple[str, ...] = get_args(Cell)
NONLINEARITIES: tuple[str, ...] = get_args(Nonlinearity)


class _Cell(nn.Module):
    """Shared parameters of the three cells: ``gates`` blocks of ``hidden_size`` rows each."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        check_sizes(input_size=input_size, hidden_size=hidden_size)
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(self.gates * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(self.gates * hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(self.gates * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(self.gates * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch's default for every recurrent layer: U(-1/sqrt(H), 1/sqrt(H)).
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def flat_weights(self) -> list[Tensor]:
        """The parameters in the order torch's fused RNN kernels expect them."""
        weights = [self.weight_ih, self.weight_hh]
        if self.bias_ih is not None:
            weights += [self.bias_ih, self.bias_hh]
        return weights

    def _affine(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """W_i x + b_i and W_h h + b_h, each (B, gates * H)."""
        return (
            nn.functional.linear(x, self.weight_ih, self.bias_ih),
            nn.functional.linear(h, self.weight_hh, self.bias_hh),
        )

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_Cell):
    r"""Vanilla (Elman) recurrent cell.

    .. math::
        h_t = \phi(W_{i} x_t + b_{i} + W_{h} h_{t-1} + b_{h}), \qquad \phi \in \{\tanh, \mathrm{ReLU}\}

    ``tanh`` keeps the state in (-1, 1), so it cannot blow up in the forward pass, but its derivative is
    below 1 almost everywhere, so gradients through many steps vanish. ``relu`` passes gradients
    unchanged where it is active (with an identity-initialised ``W_h``, Le et al. 2015) but the state is
    unbounded and can explode: clip gradients when you use it.

    Args:
        input_size: features per time step of the input.
        hidden_size: units in the hidden state.
        bias: whether to learn ``b_i`` and ``b_h``.
        nonlinearity: ``"tanh"`` or ``"relu"``.
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: Nonlinearity = "tanh"
    ) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"Unknown nonlinearity {nonlinearity!r}; valid choices are {NONLINEARITIES}.")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        """One step: ``x`` (B, I), ``h`` (B, H) -> new ``h`` (B, H)."""
        gi, gh = self._affine(x, h)
        return torch.tanh(gi + gh) if self.nonlinearity == "tanh" else torch.relu(gi + gh)


class LSTMCell(_Cell):
    r"""Long short-term memory cell; gates stacked in torch's order (input, forget, candidate, output).

    .. math::
        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})        && \text{input gate: how much new to write} \\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})        && \text{forget gate: how much old to keep} \\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})         && \text{candidate values} \\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})        && \text{output gate: how much to show} \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t                             && \text{cell state} \\
        h_t &= o_t \odot \tanh(c_t)

    The cell state is updated additively, so while ``f_t`` stays near 1 the gradient flows back through
    ``c`` almost unchanged: that is what lets an LSTM learn dependencies hundreds of steps long.

    Args:
        input_size: features per time step of the input.
        hidden_size: units in the hidden and cell states.
        bias: whether to learn the biases.
    """

    gates = 4

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """One step: ``x`` (B, I), ``state`` = (h, c), each (B, H) -> new (h, c)."""
        h, c = state
        gi, gh = self._affine(x, h)
        i, f, g, o = (gi + gh).chunk(4, dim=1)  # each (B, H)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        return h, c


class GRUCell(_Cell):
    r"""Gated recurrent unit (Cho et al. 2014); gates stacked in torch's order (reset, update, new).

    .. math::
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})          && \text{reset gate} \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})          && \text{update gate} \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) && \text{candidate state} \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    The reset gate decides how much of the past enters the candidate; the update gate interpolates
    between keeping the old state and taking the candidate. One state vector, three gates' worth of
    weights instead of the LSTM's four. As in torch (and cuDNN), ``r_t`` multiplies ``W_{hn} h + b_{hn}``.

    Args:
        input_size: features per time step of the input.
        hidden_size: units in the hidden state.
        bias: whether to learn the biases.
    """

    gates = 3

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        """One step: ``x`` (B, I), ``h`` (B, H) -> new ``h`` (B, H)."""
        gi, gh = self._affine(x, h)
        i_r, i_z, i_n = gi.chunk(3, dim=1)  # each (B, H)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h


def make_cell(
    cell: Cell, input_size: int, hidden_size: int, nonlinearity: Nonlinearity = "tanh", bias: bool = True
) -> _Cell:
    """Build a cell by name: ``"rnn"`` (with ``nonlinearity``), ``"lstm"`` or ``"gru"``."""
    if cell == "rnn":
        return RNNCell(input_size, hidden_size, bias, nonlinearity)
    if cell == "lstm":
        return LSTMCell(input_size, hidden_size, bias)
    if cell == "gru":
        return GRUCell(input_size, hidden_size, bias)
    raise ValueError(f"Unknown cell {cell!r}; valid choices are {CELL_TYPES}.")
