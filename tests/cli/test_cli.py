"""The `textrnn` command end to end: every shipped config runs, and fit -> checkpoint -> test reproduces
the test metrics."""

import csv
from pathlib import Path

import pytest
import torch

from textrnn.cli.app import main, run_cli
from tiny_args import tiny_fit_args

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def test_every_config_is_covered():
    names = {c.stem for c in CONFIGS}
    assert {"textrnn_bilstm", "textrnn_gru", "textrnn_rnn", "textcnn", "sine_lstm", "sine_lstm_classic",
            "sine_gru"} <= names


@pytest.mark.parametrize("config", [  # one cheap config in the fast tier; the full BBC runs are slow
    pytest.param(c, marks=() if c.stem == "sine_gru" else pytest.mark.slow) for c in CONFIGS], ids=lambda c: c.stem)
def test_fast_dev_run_every_config(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if config.stem == "textrnn_bilstm_pretrained":  # it starts from runs/lm_bilstm: a two-batch language model
        run_cli(["fit", "--config", "lm_bilstm", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                 "--trainer.limit_val_batches", "2", "--trainer.limit_test_batches", "2",
                 "--trainer.enable_progress_bar", "false"])
    cli = run_cli(["fit", "--config", str(config), "--trainer.fast_dev_run", "2",
                   "--trainer.enable_progress_bar", "false"])
    metrics = cli.trainer.callback_metrics  # fit ended by testing
    key = "test/rmse" if "sine" in config.stem else "test/ppl" if config.stem.startswith("lm_") else "test/acc"
    assert key in metrics and torch.isfinite(metrics[key])


def test_checkpoint_round_trip_reproduces_test_metrics(tmp_path, tiny_en_csv):
    fit = run_cli(tiny_fit_args(tmp_path, tiny_en_csv, epochs=4))
    fitted = {k: v.item() for k, v in fit.trainer.callback_metrics.items() if k.startswith("test/")}
    assert fitted["test/acc"] >= 0.9  # the tiny keyword set is easy
    best = Path(fit.trainer.checkpoint_callback.best_model_path)
    assert best.is_file() and (best.parent / "last.ckpt").is_file()
    checkpoint = torch.load(best, weights_only=True)  # nothing pickled beyond tensors and plain types
    record = checkpoint["textrnn"]  # textrnn's one record; the data module's state lives there, once
    assert record["version"] == 1 and record["task"] == "classification" and record["max_length"] == 400
    assert record["label_names"] == ["food", "sports", "tech"]
    assert record["model_class"] == "textrnn.models.text_rnn.TextRNN"
    assert not {"TextDataModule", "textrnn_model"} & set(checkpoint)

    config = next(tmp_path.rglob("config.yaml"))
    again = run_cli(["test", "--config", str(config), "--ckpt_path", str(best)])
    retested = {k: v.item() for k, v in again.trainer.callback_metrics.items() if k.startswith("test/")}
    assert retested == pytest.approx(fitted, abs=1e-6)


@pytest.mark.slow
def test_ckpt_path_last_resumes_the_newest_run_of_the_experiment(tmp_path, tiny_en_csv):
    """`--ckpt_path last` finds the last.ckpt of the newest version folder, goes on from its epoch, and
    logs into a new version folder, so the first run's metrics.csv stays as it was."""
    logger = ["--trainer.logger", "CSVLogger", "--trainer.logger.init_args.save_dir", str(tmp_path),
              "--trainer.logger.init_args.name", "exp"]
    first = run_cli(tiny_fit_args(tmp_path, tiny_en_csv, "--trainer.max_epochs", "1", *logger))
    first_metrics = (tmp_path / "exp" / "version_0" / "metrics.csv").read_text()
    assert first.trainer.global_step > 0
    resumed = run_cli(tiny_fit_args(tmp_path, tiny_en_csv, "--trainer.max_epochs", "2", "--ckpt_path", "last", *logger))
    assert resumed.trainer.global_step == 2 * first.trainer.global_step  # one more epoch, not two
    assert (tmp_path / "exp" / "version_0" / "metrics.csv").read_text() == first_metrics
    with open(tmp_path / "exp" / "version_1" / "metrics.csv") as f:
        validated = {row["epoch"] for row in csv.DictReader(f) if row.get("val/acc")}
    assert validated == {"1"}  # only the resumed epoch was trained in the new run


def test_user_errors_end_in_one_message(tmp_path, tiny_en_csv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(tiny_fit_args(tmp_path, tiny_en_csv, "--model.init_args.cell", "lstmm"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "'lstmm'" in err and "valid choices" in err and "Traceback" not in err
