"""SineRNN: next-value regression of a wave from a window of past values, the classic "an LSTM predicts
sin(x)" experiment (the TensorFlow example of 2 x 30 LSTM units, and pytorch/examples'
``time_sequence_prediction``). It runs on ``textrnn.nn.RecurrentEncoder``, the very same cells and
encoder as Text-RNN: each window is ``window`` time steps of one feature.

``forward(x, future=N)`` rolls out autoregressively: after predicting the value that follows the window,
it slides the window by one, feeding its own prediction back, N more times.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torchmetrics import MeanSquaredError

from textrnn.models.optim import LRSchedule, Optimizer, build_optimizer
from textrnn.nn import RecurrentEncoder, TimePooling
from textrnn.nn.cells import Cell, Nonlinearity
from textrnn.nn.encoder import Implementation, InitState
from textrnn.nn.checks import check_positive


class SineRNN(pl.LightningModule):
    """Recurrent regression of the next value of a sequence.

    Args:
        hidden_size: units per layer and direction (classic: 30).
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        nonlinearity: ``"tanh"`` or ``"relu"`` for ``cell="rnn"``.
        num_layers: stacked recurrent layers (classic: 2).
        bidirectional: also read each window backwards.
        dropout: dropout between stacked layers.
        init_state: ``"zeros"`` or ``"learned"`` initial state.
        implementation: ``"fused"`` (torch's kernels) or ``"explicit"`` (the gate-by-gate cells).
        residual: predict the change from the window's last value rather than the value itself; the
            network then only models the small step, which is far easier to get precise.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"``, ``"adagrad"`` (classic) or ``"rmsprop"``.
        lr: learning rate (classic: Adagrad 0.1).
        weight_decay: L2 penalty.
        lr_schedule: ``"constant"`` (classic) or ``"cosine"`` (decay to zero over the run).
    """

    # The encoder's arguments are spelt out here again on purpose: LightningCLI builds `--help` and the YAML
    # from each class's own typed signature (no **kwargs).
    def __init__(
        self,
        hidden_size: int = 30,
        cell: Cell = "lstm",
        nonlinearity: Nonlinearity = "tanh",
        num_layers: int = 2,
        bidirectional: bool = False,
        dropout: float = 0.0,
        init_state: InitState = "zeros",
        implementation: Implementation = "fused",
        residual: bool = False,
        optimizer: Optimizer = "adagrad",
        lr: float = 0.1,
        weight_decay: float = 0.0,
        lr_schedule: LRSchedule = "constant",
    ) -> None:
        super().__init__()
        check_positive("lr", lr)
        check_positive("weight_decay", weight_decay, allow_zero=True)
        self.save_hyperparameters()
        self.encoder = RecurrentEncoder(
            1, hidden_size, cell=cell, nonlinearity=nonlinearity, num_layers=num_layers,
            bidirectional=bidirectional, dropout=dropout, init_state=init_state, implementation=implementation,
        )
        self.pool = TimePooling("last", self.encoder.output_size, self.encoder.num_directions)
        self.head = nn.Linear(self.encoder.output_size, 1)
        self.val_rmse = MeanSquaredError(squared=False)
        self.test_rmse = MeanSquaredError(squared=False)

    def step(self, window: Tensor) -> Tensor:
        """Predict the value after each window: (B, T) -> (B,)."""
        batch, steps = window.shape
        out = self.encoder(window.unsqueeze(-1))  # (B, T, D*H)
        lengths = torch.full((batch,), steps, device=window.device)
        y = self.head(self.pool(out, lengths)).squeeze(-1)  # (B,)
        return window[:, -1] + y if self.hparams.residual else y

    def forward(self, x: Tensor, future: int = 0) -> Tensor:
        """``x`` (B, T) -> (B, 1 + future): the next value, then ``future`` values rolled out."""
        if future < 0:
            raise ValueError(f"future must be >= 0, got {future}.")
        predictions = []
        for _ in range(future + 1):
            y = self.step(x)  # (B,)
            predictions.append(y)
            x = torch.cat([x[:, 1:], y.unsqueeze(1)], dim=1)  # slide the window onto our own prediction
        return torch.stack(predictions, dim=1)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.step(x), y)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val", self.val_rmse)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test", self.test_rmse)

    def _eval_step(self, batch: tuple[Tensor, Tensor], stage: str, rmse: MeanSquaredError) -> None:
        x, y = batch
        rmse.update(self.step(x), y)
        self.log(f"{stage}/rmse", rmse, prog_bar=True)

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self.step(batch[0])

    def configure_optimizers(self):
        hp = self.hparams
        return build_optimizer(self, hp.optimizer, hp.lr, hp.weight_decay, hp.lr_schedule)
