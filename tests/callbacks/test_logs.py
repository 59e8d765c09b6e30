"""The logs a run leaves: TensorBoard events in the CSV run's own folder, the learning rate, the training
loss several times an epoch, and learning_curve.png drawn from the same numbers metrics.csv holds."""

import csv
from pathlib import Path

import pytest
import torch
import yaml

from textrnn.cli.app import run_cli
from tiny_args import tiny_fit_args

REPO = Path(__file__).resolve().parents[2]
TEXT_CONFIGS = sorted(p for p in (REPO / "configs").glob("*.yaml") if not p.stem.startswith("sine"))
LOG_CALLBACKS = {"textrnn.callbacks.LearningCurves", "textrnn.callbacks.TensorBoardLogs",
                 "lightning.pytorch.callbacks.LearningRateMonitor"}
BBC_TRAIN_BATCHES = 54  # 1,698 training texts in batches of 32


@pytest.mark.parametrize("config", TEXT_CONFIGS, ids=lambda p: p.stem)
def test_every_text_config_asks_for_the_logs(config):
    trainer = yaml.safe_load(config.read_text())["trainer"]
    assert LOG_CALLBACKS <= {c["class_path"] for c in trainer["callbacks"]}
    assert BBC_TRAIN_BATCHES // trainer["log_every_n_steps"] >= 3  # the training loss several times an epoch


def test_a_run_folder_holds_csv_tensorboard_and_the_learning_curve(tmp_path, tiny_en_csv):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    args = tiny_fit_args(tmp_path, tiny_en_csv, "--trainer.logger", "CSVLogger",
                         "--trainer.logger.init_args.save_dir", str(tmp_path), "--trainer.logger.init_args.name", "exp",
                         "--trainer.log_every_n_steps", "1", *[f"--trainer.callbacks+={c}" for c in sorted(LOG_CALLBACKS)])
    cli = run_cli(args)
    runs = sorted(p.name for p in (tmp_path / "exp").iterdir())
    assert runs == ["version_0"]  # one folder: the TensorBoard logger does not take a version of its own
    run = tmp_path / "exp" / "version_0"

    rows = list(csv.DictReader((run / "metrics.csv").open()))
    steps_per_epoch = cli.trainer.num_training_batches
    train = {}
    for row in rows:
        if row["train/loss"]:
            train.setdefault(int(row["epoch"]), []).append(float(row["train/loss"]))
    assert {epoch: len(losses) for epoch, losses in train.items()} == {0: steps_per_epoch, 1: steps_per_epoch}
    assert any(row.get("lr-Adam") for row in rows)

    # What the curve was drawn from, as the last checkpoint keeps it for a resumed run to draw on.
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    curves = next(state for key, state in saved["callbacks"].items() if key.startswith("LearningCurves"))
    epochs = list(range(saved["epoch"] + 1))  # every epoch up to the checkpoint's own
    assert sorted(curves["train_loss"]) == epochs and sorted(curves["val"]) == epochs
    for epoch in epochs:  # the curve's training loss is the mean of the epoch's logged losses
        assert curves["train_loss"][epoch] == pytest.approx(sum(train[epoch]) / len(train[epoch]), rel=1e-5)
    val = {int(row["epoch"]): float(row["val/acc"]) for row in rows if row["val/acc"]}
    assert {epoch: row["val/acc"] for epoch, row in curves["val"].items()} == pytest.approx(
        {epoch: val[epoch] for epoch in epochs})
    png = (run / "learning_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000

    events = EventAccumulator(str(run))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "val/acc", "val/f1_macro", "lr-Adam", "test/acc"} <= tags
    assert len(events.Scalars("train/loss")) == 2 * steps_per_epoch
