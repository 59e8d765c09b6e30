"""The recurrent encoder shared by Text-RNN and the sine regression: stacked, optionally bidirectional
RNN/LSTM/GRU layers over right-padded, variable-length batches, exact without ``pack_padded_sequence``.

Each layer and direction owns one gate-by-gate cell from ``textrnn/nn/cells.py``. Two implementations
read the same parameters, so a model trained with one runs with the other:

* ``fused`` (default): the cell's tensors go straight to torch's fused kernel (cuDNN on GPU, the native
  CPU kernel otherwise), one call per layer and direction over the whole padded batch.
* ``explicit``: a Python loop over time steps calling the cell. Slow; it is the readable reference.

Why this is exact without packing. The forward direction is causal, so its outputs at a text's real
positions never see the padding after it. The backward direction must start at each text's *own* last
token, not at the end of the padded batch: we reverse every sequence within its own length (one
``gather``), run the cell forward over that, and reverse the outputs back. Padding then only ever
follows real tokens, never precedes them. Packed sequences give the same numbers 5-11x slower on CPU
(``python benchmarks/rnn_kernels.py`` measures it side by side).

Dropout follows TensorFlow's ``DropoutWrapper``: on the inputs, between stacked layers, on the outputs,
and optionally variational (Gal & Ghahramani 2016): one mask per sequence shared by all time steps.
"""

from __future__ import annotations

import logging
from typing import Literal, get_args

import torch
from torch import Tensor, nn

from textrnn.nn.cells import CELL_TYPES, Cell, Nonlinearity, make_cell
from textrnn.nn.checks import MAX_LAYERS, check_probabilities, check_size, check_sizes

Implementation = Literal["fused", "explicit"]
InitState = Literal["zeros", "learned"]
IMPLEMENTATIONS: tuple[str, ...] = get_args(Implementation)
INIT_STATES: tuple[str, ...] = get_args(InitState)

log = logging.getLogger(__name__)
_CPU_LSTM_RUNS_IN: dict[torch.dtype, bool] = {}  # reduced dtype -> whether this CPU's fused LSTM accepts it


def cpu_lstm_runs_in(dtype: torch.dtype) -> bool:
    """Whether torch's fused CPU LSTM runs forward and backward under CPU autocast to ``dtype``.

    oneDNN has a bf16/fp16 LSTM only on CPUs with AVX-512 (BF16) or AMX; elsewhere (an AVX2-only AMD EPYC,
    for one) the call raises "could not create a primitive descriptor for the LSTM forward propagation
    primitive". Asked once per dtype with a tiny probe, and said once in the log when the answer is no."""
    if dtype not in _CPU_LSTM_RUNS_IN:
        try:
            # The probe needs autograd whatever the caller's context (no_grad, inference_mode) is.
            with torch.inference_mode(False), torch.enable_grad():
                x = torch.zeros(1, 2, 4, requires_grad=True)
                h = torch.zeros(1, 1, 4)
                weights = [torch.zeros(16, 4, requires_grad=True), torch.zeros(16, 4, requires_grad=True)]
                with torch.autocast("cpu", dtype=dtype):
                    out = torch._VF.lstm(x, (h, h), weights, False, 1, 0.0, True, False, True)[0]
                out.float().sum().backward()
            _CPU_LSTM_RUNS_IN[dtype] = True
        except RuntimeError as err:
            _CPU_LSTM_RUNS_IN[dtype] = False
            reason = str(err).split(". ")[0].splitlines()[0]
            log.warning("This CPU has no %s LSTM kernel (%s); under mixed precision the LSTM layers run in "
                        "float32, everything else in %s.", dtype, reason, dtype)
    return _CPU_LSTM_RUNS_IN[dtype]


def _lstm_needs_fp32(x: Tensor) -> bool:
    """True inside CPU autocast to a dtype this CPU's fused LSTM cannot run in."""
    return (x.device.type == "cpu" and torch.is_autocast_enabled("cpu")
            and not cpu_lstm_runs_in(torch.get_autocast_dtype("cpu")))


def reverse_index(lengths: Tensor, max_len: int) -> Tensor:
    """Index (B, T) that reverses each sequence within its own length and leaves padding in place.

    Applying it twice is the identity, so the same index reverses the outputs back.
    """
    t = torch.arange(max_len, device=lengths.device)  # (T,)
    rev = lengths.unsqueeze(1) - 1 - t  # (B, T)
    return torch.where(rev >= 0, rev, t)


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """Boolean (B, T): True at real positions, False at padding."""
    return torch.arange(max_len, device=lengths.device) < lengths.unsqueeze(1)


def time_gather(x: Tensor, index: Tensor) -> Tensor:
    """``x`` (B, T, D) gathered along time by ``index`` (B, T)."""
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


class RecurrentEncoder(nn.Module):
    """Stacked, optionally bidirectional recurrent layers over (B, T, input_size) inputs.

    Args:
        input_size: features per time step.
        hidden_size: units per layer and direction.
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        nonlinearity: ``"tanh"`` or ``"relu"``, for ``cell="rnn"`` only.
        num_layers: stacked layers; each takes the previous layer's (concatenated) outputs.
        bidirectional: add a backward direction that reads every text from its own last token.
        input_dropout: dropout on the encoder's inputs (for text: the embeddings).
        dropout: dropout between stacked layers (as in ``nn.LSTM``).
        output_dropout: dropout on the last layer's outputs.
        variational: share one dropout mask across all time steps of a sequence (Gal & Ghahramani 2016)
            instead of a fresh mask per step; often better for recurrent nets on small data.
        init_state: ``"zeros"`` or ``"learned"`` (a trained initial state per layer and direction).
        implementation: ``"fused"`` (torch's kernels) or ``"explicit"`` (a loop over the cells).
        independent_directions: with ``bidirectional`` and stacked layers, give each direction a stack of
            its own (layer l of a direction reads only layer l-1 of the same direction, as ELMo does)
            instead of feeding both directions' outputs to the next layer. A bidirectional language
            model needs it (each direction may only see its own side of a token); a classifier
            fine-tuned from one must use it too. With one layer both layouts are the same.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 128,
        cell: Cell = "lstm",
        nonlinearity: Nonlinearity = "tanh",
        num_layers: int = 1,
        bidirectional: bool = False,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
        output_dropout: float = 0.0,
        variational: bool = False,
        init_state: InitState = "zeros",
        implementation: Implementation = "fused",
        independent_directions: bool = False,
    ) -> None:
        super().__init__()
        if cell not in CELL_TYPES:
            raise ValueError(f"Unknown cell {cell!r}; valid choices are {CELL_TYPES}.")
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"Unknown implementation {implementation!r}; valid choices are {IMPLEMENTATIONS}.")
        if init_state not in INIT_STATES:
            raise ValueError(f"Unknown init_state {init_state!r}; valid choices are {INIT_STATES}.")
        check_sizes(input_size=input_size, hidden_size=hidden_size)
        check_size("num_layers", num_layers, high=MAX_LAYERS)
        check_probabilities(input_dropout=input_dropout, dropout=dropout, output_dropout=output_dropout)
        self.cell_type = cell
        self.nonlinearity = nonlinearity
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.input_dropout = input_dropout
        self.dropout = dropout
        self.output_dropout = output_dropout
        self.variational = variational
        self.implementation = implementation
        self.independent_directions = independent_directions and bidirectional
        self.output_size = self.num_directions * hidden_size
        upper_input = hidden_size if self.independent_directions else self.output_size
        # cells[layer][direction]: direction 0 reads left to right, 1 right to left.
        self.cells = nn.ModuleList(
            nn.ModuleList(
                make_cell(cell, input_size if layer == 0 else upper_input, hidden_size, nonlinearity)
                for _ in range(self.num_directions)
            )
            for layer in range(num_layers)
        )
        n_states = num_layers * self.num_directions
        if init_state == "learned":
            self.h0 = nn.Parameter(torch.zeros(n_states, hidden_size))
            self.c0 = nn.Parameter(torch.zeros(n_states, hidden_size)) if cell == "lstm" else None
        else:
            self.h0 = self.c0 = None

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Encode ``x`` (B, T, input_size), right-padded, with ``lengths`` (B,) of real steps (None: all T).

        Returns outputs (B, T, num_directions * hidden_size); the forward direction's features come first.
        Positions past a sequence's length are zero.
        """
        batch, max_len, _ = x.shape
        if lengths is None:
            rev, mask = None, None
        else:
            lengths = lengths.to(x.device)
            rev, mask = reverse_index(lengths, max_len), length_mask(lengths, max_len)
        x = self._drop(x, self.input_dropout)
        inputs = [x] * self.num_directions  # what each direction's next layer reads
        for layer, cells in enumerate(self.cells):
            if layer > 0:
                inputs = [self._drop(inp, self.dropout) for inp in inputs]
            outputs = []
            for direction, cell in enumerate(cells):
                state = self._initial_state(layer * self.num_directions + direction, batch, x)
                inp = inputs[direction]
                if direction == 0:
                    outputs.append(self._run(cell, inp, state))
                else:
                    x_rev = inp.flip(1) if rev is None else time_gather(inp, rev)
                    out = self._run(cell, x_rev, state)
                    outputs.append(out.flip(1) if rev is None else time_gather(out, rev))
            x = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]  # (B, T, D*H)
            inputs = outputs if self.independent_directions else [x] * self.num_directions
        x = self._drop(x, self.output_dropout)
        if mask is not None:
            x = x * mask.unsqueeze(-1).to(x.dtype)
        return x

    def _initial_state(self, index: int, batch: int, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        """The (B, H) initial state of one layer and direction ((h, c) for an LSTM)."""
        if self.h0 is None:
            h = x.new_zeros(batch, self.hidden_size)
            return (h, h) if self.cell_type == "lstm" else h
        h = self.h0[index].to(x.dtype).expand(batch, -1)
        return (h, self.c0[index].to(x.dtype).expand(batch, -1)) if self.cell_type == "lstm" else h

    def _run(self, cell: nn.Module, x: Tensor, state: Tensor | tuple[Tensor, Tensor]) -> Tensor:
        """One direction of one layer over the whole padded batch: (B, T, I) -> (B, T, H)."""
        if self.implementation == "explicit":
            outputs = []
            for t in range(x.size(1)):
                state = cell(x[:, t], state)
                outputs.append(state[0] if isinstance(state, tuple) else state)
            return torch.stack(outputs, dim=1)
        weights = cell.flat_weights()
        has_bias = len(weights) == 4
        # torch._VF.lstm/gru/rnn_* are the fused kernels nn.LSTM/GRU/RNN.forward call; no public functional
        # API exposes them (torch.nn.functional has no lstm), and this layer-by-layer encoder (independent
        # directions, dropout masks between layers, learned initial states) runs one layer at a time on
        # its own cells' weights, which the nn modules cannot do without copying them each step.
        # Arguments after the weights: has_biases, num_layers, dropout, train, bidirectional, batch_first.
        if self.cell_type == "lstm":
            h, c = state
            hx = (h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous())  # each (1, B, H)
            if _lstm_needs_fp32(x):  # the float32 kernel, with autocast off for this one call
                with torch.autocast("cpu", enabled=False):
                    hx = (hx[0].float(), hx[1].float())
                    return torch._VF.lstm(x.float(), hx, [w.float() for w in weights], has_bias, 1, 0.0,
                                          self.training, False, True)[0]
            return torch._VF.lstm(x, hx, weights, has_bias, 1, 0.0, self.training, False, True)[0]
        kernel = {"gru": torch._VF.gru, "rnn": getattr(torch._VF, f"rnn_{self.nonlinearity}")}[self.cell_type]
        return kernel(x, state.unsqueeze(0).contiguous(), weights, has_bias, 1, 0.0, self.training, False, True)[0]

    def _drop(self, x: Tensor, p: float) -> Tensor:
        if not self.training or p == 0.0:
            return x
        if not self.variational:
            return nn.functional.dropout(x, p, training=True)
        keep = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1.0 - p) / (1.0 - p)  # (B, 1, D): one mask per sequence
        return x * keep

    def to_torch(self) -> nn.RNNBase:
        """An ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (batch_first) carrying this encoder's weights.

        For comparisons and export; it runs on packed sequences or on unpadded batches. Dropout and a
        learned initial state are not carried over.
        """
        layer_cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[self.cell_type]
        kwargs = {"nonlinearity": self.nonlinearity} if self.cell_type == "rnn" else {}
        first = self.cells[0][0]
        if self.independent_directions and self.num_layers > 1:
            raise ValueError("an encoder with independent_directions and stacked layers has no nn.RNNBase twin "
                             "(torch's layers always feed both directions to the next layer)")
        twin = layer_cls(first.input_size, self.hidden_size, num_layers=self.num_layers,
                         bidirectional=self.num_directions == 2, batch_first=True, **kwargs)
        state = {}
        for layer, cells in enumerate(self.cells):
            for direction, cell in enumerate(cells):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                state.update({name + suffix: p.detach() for name, p in cell.named_parameters()})
        twin.load_state_dict(state)
        return twin.to(device=first.weight_ih.device, dtype=first.weight_ih.dtype)

    def extra_repr(self) -> str:
        extra = ", independent_directions=True" if self.independent_directions else ""
        return f"implementation={self.implementation!r}, variational={self.variational}{extra}"
