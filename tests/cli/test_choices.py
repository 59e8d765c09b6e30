"""Choices (cell, pooling, optimizer, schedule, implementation) are ``Literal[...]`` types: ``--help`` lists
them, jsonargparse rejects other values, and the error is one line with the valid choices and a "did you
mean"; from Python the classes still raise a plain ValueError."""

from typing import get_args

import pytest

from textrnn.cli.app import run_cli
from textrnn.cli.errors import literal_choices
from textrnn.models import TextCNN, TextRNN
from textrnn.models.optim import OPTIMIZERS, Optimizer
from textrnn.nn.cells import CELL_TYPES, Cell
from reliability.reliability_helpers import one_cli_error  # exit code 2, one line, no traceback
from tiny_args import tiny_fit_args


def test_help_lists_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["fit", "--model.help", "TextRNN"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--model.cell {rnn,lstm,gru}", "--model.pooling {last,max,mean,attention,concat}",
                   "--model.optimizer {adam,adamw,sgd,adagrad,rmsprop}", "--model.lr_schedule {constant,cosine,slanted_triangular,one_cycle}",
                   "--model.implementation {fused,explicit}", "--model.init_state {zeros,learned}"):
        assert option in text, option


BAD_CHOICES = {  # extra arguments: the error line
    "cell": (["--model.init_args.cell", "lstmm"],
             "model.init_args.cell: 'lstmm' is not a valid choice for TextRNN; did you mean 'lstm'? "
             "valid choices: 'rnn', 'lstm', 'gru'"),
    "optimizer": (["--model.init_args.optimizer", "adamx"],
                  "model.init_args.optimizer: 'adamx' is not a valid choice for TextRNN; did you mean 'adam'? "
                  "valid choices: 'adam', 'adamw', 'sgd', 'adagrad', 'rmsprop'"),
    "implementation": (["--model.init_args.implementation", "xyz"],
                       "model.init_args.implementation: 'xyz' is not a valid choice for TextRNN; "
                       "valid choices: 'fused', 'explicit'"),
    "cnn_pooling": (["--model", "TextCNN", "--model.init_args.pooling", "attention"],
                    "model.init_args.pooling: 'attention' is not a valid choice for TextCNN; "
                    "valid choices: 'max', 'mean'"),
    "level": (["--data.init_args.level", "chars"],
              "data.init_args.level: 'chars' is not a valid choice for TextDataModule; did you mean 'char'? "
              "valid choices: 'word', 'char'"),
}


def error_line(capsys, args: list[str]) -> str:
    """The one error line of `textrnn` on ``args``, without its ``textrnn: error:`` prefix."""
    return one_cli_error(capsys, args).removeprefix("textrnn: error: ")


@pytest.mark.parametrize("case", BAD_CHOICES)
def test_a_bad_choice_is_one_line_with_the_valid_ones(case, tmp_path, tiny_en_csv, capsys):
    extra, expected = BAD_CHOICES[case]
    assert error_line(capsys, tiny_fit_args(tmp_path, tiny_en_csv, *extra)) == expected


def test_a_bad_choice_in_a_config_file_reads_the_same(tmp_path, tiny_en_csv, capsys):
    (tmp_path / "bad.yaml").write_text("model:\n  init_args:\n    lr_schedule: cosin\n")
    assert error_line(capsys, tiny_fit_args(tmp_path, tiny_en_csv, "--config", str(tmp_path / "bad.yaml"))) == (
        "model.init_args.lr_schedule: 'cosin' is not a valid choice for TextRNN; "
        "did you mean 'cosine'? valid choices: 'constant', 'cosine', 'slanted_triangular', 'one_cycle'")


def test_python_callers_get_a_plain_value_error():
    with pytest.raises(ValueError, match=r"Unknown cell 'lstmm'; valid choices are \('rnn', 'lstm', 'gru'\)"):
        TextRNN(cell="lstmm")
    with pytest.raises(ValueError, match="Unknown pooling 'attention' for the convolutional encoder"):
        TextCNN(pooling="attention")


def test_the_choice_tuples_are_the_literal_types():
    assert CELL_TYPES == get_args(Cell) == literal_choices("textrnn.models.TextRNN", "cell")
    assert tuple(OPTIMIZERS) == get_args(Optimizer)  # every name builds an optimizer
    assert literal_choices("textrnn.models.TextRNN", "hidden_size") == ()
    assert literal_choices("textrnn.models.NoSuchModel", "cell") == ()


def test_the_sine_function_is_a_choice_too(tmp_path, capsys):
    args = ["fit", "--model", "SineRNN", "--data", "SineDataModule", "--data.init_args.function", "tan",
            "--trainer.default_root_dir", str(tmp_path)]
    assert error_line(capsys, args) == ("data.init_args.function: 'tan' is not a valid choice for SineDataModule; "
                                        "valid choices: 'sin', 'cos', 'sines'")
    assert literal_choices("textrnn.data.TextDataModule", "level") == ("word", "char")
