"""Sine-wave windows for next-value regression: the data of the classic TensorFlow "LSTM predicts
sin(x)" experiment (Mourri's tf.contrib.learn example and its many copies): 10,000 points of sin(x)
evenly spaced over [0, 100] for training, 1,000 points over [100, 110] for testing, and each window of
10 consecutive values predicts the next one. Validation is the end of the training range, so it lies
between training and test in x, as a forecast should.
"""

from __future__ import annotations

from typing import Literal, get_args

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

Function = Literal["sin", "cos", "sines"]  # a typed choice: --help lists it, the CLI rejects others
FUNCTIONS: tuple[str, ...] = get_args(Function)


def wave(function: Function, x: np.ndarray) -> np.ndarray:
    """The target signal: ``sin``, ``cos``, or ``sines`` = sin(x) + 0.5 sin(2.3 x) (not periodic in 2 pi)."""
    if function == "sin":
        return np.sin(x)
    if function == "cos":
        return np.cos(x)
    if function == "sines":
        return np.sin(x) + 0.5 * np.sin(2.3 * x)
    raise ValueError(f"Unknown function {function!r}; valid choices are {FUNCTIONS}.")


def windows(values: np.ndarray, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every run of ``window`` values (N - window, window) and the value that follows each (N - window,)."""
    if len(values) <= window:
        raise ValueError(f"Need more than window={window} points to make one example, got {len(values)}.")
    idx = np.arange(window)[None, :] + np.arange(len(values) - window)[:, None]  # (N - W, W)
    return torch.tensor(values[idx], dtype=torch.float32), torch.tensor(values[window:], dtype=torch.float32)


class SineDataModule(pl.LightningDataModule):
    """Windows of a sampled wave; batches are (x (B, window), y (B,)).

    Args:
        function: ``"sin"``, ``"cos"`` or ``"sines"`` (a sum of two sines).
        noise: standard deviation of Gaussian noise added to the training and validation inputs and
            targets (the test set stays clean, so its RMSE measures the fit to the true function).
        window: time steps the model sees to predict the next value.
        train_range: (start, end) of x for training and validation.
        train_points: points evenly spaced over ``train_range``, ends included.
        test_range: (start, end) of x for testing.
        test_points: points evenly spaced over ``test_range``, ends included.
        val_fraction: share of the training points, taken from the end of the range, kept for validation.
        batch_size: windows per training batch.
        seed: seed of the noise and of the shuffling.
    """

    def __init__(
        self,
        function: Function = "sin",
        noise: float = 0.0,
        window: int = 10,
        train_range: tuple[float, float] = (0.0, 100.0),
        train_points: int = 10000,
        test_range: tuple[float, float] = (100.0, 110.0),
        test_points: int = 1000,
        val_fraction: float = 0.1,
        batch_size: int = 32,
        seed: int = 42,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if function not in FUNCTIONS:
            raise ValueError(f"Unknown function {function!r}; valid choices are {FUNCTIONS}.")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}.")
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}.")
        rng = np.random.default_rng(seed)
        x_train = np.linspace(*train_range, train_points)
        n_val = int(round(train_points * val_fraction))
        self.x = {
            "train": x_train[: train_points - n_val],
            "val": x_train[train_points - n_val :],
            "test": np.linspace(*test_range, test_points),
        }
        self.y = {}
        for split, x in self.x.items():
            y = wave(function, x)
            if split != "test" and noise > 0:
                y = y + rng.normal(0.0, noise, size=y.shape)
            self.y[split] = y
        self.datasets = {split: TensorDataset(*windows(y, window)) for split, y in self.y.items()}

    def target_x(self, split: str) -> np.ndarray:
        """The x of every target value in ``split`` (for plots): each window predicts the point after it."""
        return self.x[split][self.hparams.window :]

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.hparams.seed)
        return DataLoader(self.datasets["train"], batch_size=self.hparams.batch_size, shuffle=True,
                          generator=generator, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.datasets["val"], batch_size=1024)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.datasets["test"], batch_size=1024)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()
