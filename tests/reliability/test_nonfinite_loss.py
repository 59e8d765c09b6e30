"""A NaN or infinite training loss stops `textrnn fit` with one error line naming the step (global step,
epoch and batch), before that step changes any weight: for every model, through the CLI."""

import pytest
import torch

from reliability_helpers import NaNAtStep, one_cli_error
from tiny_args import tiny_fit_args

TRAINER = ["--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
           "--trainer.enable_model_summary", "false"]


def model_args(name: str, tmp_path, tiny_en_csv) -> list[str]:
    if name == "TextRNN":
        return tiny_fit_args(tmp_path, tiny_en_csv, *TRAINER)
    if name == "TextCNN":
        return ["fit", "--model", "TextCNN", "--model.init_args.embedding_dim", "16", "--model.init_args.num_filters",
                "4", "--data", "TextDataModule", "--data.init_args.dataset", "csv", "--data.init_args.data_files",
                tiny_en_csv, "--data.init_args.batch_size", "16", "--trainer.default_root_dir", str(tmp_path), *TRAINER]
    return ["fit", "--model", "SineRNN", "--model.init_args.hidden_size", "8", "--data", "SineDataModule",
            "--trainer.default_root_dir", str(tmp_path), *TRAINER]


@pytest.mark.parametrize("model", ["TextRNN", "TextCNN", "SineRNN"])
def test_an_injected_nan_stops_training_at_its_step(model, tmp_path, tiny_en_csv, capsys):
    args = model_args(model, tmp_path, tiny_en_csv)
    line = one_cli_error(capsys, [*args, "--trainer.callbacks+=reliability_helpers.NaNAtStep",
                                  "--trainer.callbacks.step=3"])
    assert "training loss is nan at global step 3 (epoch 0, batch 3)" in line, line
    assert "before this step changed the weights" in line and "lower learning rate" in line
    weights = NaNAtStep.model.state_dict().values()
    assert all(torch.isfinite(w).all() for w in weights if w.is_floating_point())  # the NaN was never applied


@pytest.mark.parametrize(("model", "step", "value"), [("TextCNN", 2, "nan"), ("SineRNN", 3, "inf")])
def test_a_huge_learning_rate_stops_training(model, step, value, tmp_path, tiny_en_csv, capsys):
    args = model_args(model, tmp_path, tiny_en_csv)
    line = one_cli_error(capsys, [*args, "--model.init_args.optimizer", "sgd", "--model.init_args.lr", "1e6"])
    assert f"training loss is {value} at global step {step} (epoch 0, batch {step})" in line, line
    assert "(lr is 1e+06)" in line
