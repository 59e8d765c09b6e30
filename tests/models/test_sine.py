"""Sine regression: the classic data exactly, shapes and roll-out, and a short run that learns."""

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from textrnn.data import SineDataModule
from textrnn.models import SineRNN


def test_classic_data_exact_x_values_at_each_splits_ends():
    data = SineDataModule()
    step = 100 / 9999  # 10,000 points over [0, 100], ends included
    assert data.x["train"][0] == 0.0 and data.x["train"][-1] == pytest.approx(8999 * step, abs=1e-12)
    assert data.x["val"][0] == pytest.approx(9000 * step, abs=1e-12) and data.x["val"][-1] == 100.0
    assert data.x["test"][0] == 100.0 and data.x["test"][-1] == 110.0 and len(data.x["test"]) == 1000
    # each window of 10 predicts the next point: N - 10 examples per split
    assert [len(data.datasets[s]) for s in ("train", "val", "test")] == [8990, 990, 990]
    x, y = data.datasets["test"][0]
    np.testing.assert_allclose(x.numpy(), np.sin(data.x["test"][:10]), atol=1e-7)
    assert y.item() == pytest.approx(np.sin(data.x["test"][10]), abs=1e-7)
    np.testing.assert_allclose(data.target_x("test")[[0, -1]], [data.x["test"][10], 110.0])


def test_noise_leaves_the_test_set_clean():
    data = SineDataModule(noise=0.1, function="cos")
    np.testing.assert_allclose(data.y["test"], np.cos(data.x["test"]))
    assert (data.y["train"] - np.cos(data.x["train"])).std() == pytest.approx(0.1, rel=0.05)


@pytest.mark.parametrize(("cell", "bidirectional"), [("lstm", False), ("gru", True), ("rnn", False)])
def test_forward_shapes_and_rollout_length(cell, bidirectional):
    model = SineRNN(cell=cell, bidirectional=bidirectional, hidden_size=8).eval()
    x = torch.randn(4, 10)
    assert model(x).shape == (4, 1)
    out = model(x, future=25)
    assert out.shape == (4, 26)
    torch.testing.assert_close(out[:, 0], model.step(x))
    # step 2 saw the window slid by one onto step 1's own prediction
    torch.testing.assert_close(out[:, 1], model.step(torch.cat([x[:, 1:], out[:, :1]], dim=1)))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="'tan'.*valid choices"):
        SineDataModule(function="tan")
    with pytest.raises(ValueError, match="future"):
        SineRNN()(torch.zeros(1, 10), future=-1)


@pytest.mark.slow
def test_a_short_run_beats_a_floor_the_untrained_model_fails():
    torch.manual_seed(0)
    data = SineDataModule()
    model = SineRNN(residual=True, optimizer="adam", lr=0.01, lr_schedule="cosine")
    trainer = pl.Trainer(max_steps=400, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0)
    untrained = trainer.test(model, datamodule=data, verbose=False)[0]["test/rmse"]
    trainer.fit(model, datamodule=data)
    trained = trainer.test(model, datamodule=data, verbose=False)[0]["test/rmse"]
    print(f"untrained test/rmse={untrained:.4f} trained (400 steps) test/rmse={trained:.4f}")
    floor = 0.01
    assert untrained > floor  # untrained: ~0.037 (the residual head starts near "repeat the last value")
    assert trained < floor  # 400 steps: ~0.007
