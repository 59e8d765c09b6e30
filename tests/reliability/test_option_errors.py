"""Every option Lightning, torch, numpy or the file system would reject ends in one `textrnn: error:` line
naming the option, exit status 2, no traceback and nothing written; model sizes and probabilities are
checked in the constructors, each error naming its argument."""

import pytest
import torch

from reliability_helpers import one_cli_error
from tiny_args import tiny_fit_args
from textrnn.cli.classify import main as classify_main
from textrnn.models import SineRNN, TextCNN, TextRNN
from textrnn.nn import ConvEncoder, RecurrentEncoder, TimePooling, make_cell, word_embedding

OPTIONS = {  # case: (extra CLI arguments, the pieces the error line must hold)
    "negative_max_epochs": (["--trainer.max_epochs", "-5"], ["--trainer.max_epochs:", "You passed in -5"]),
    "bogus_clip_algorithm": (["--trainer.gradient_clip_val", "1", "--trainer.gradient_clip_algorithm", "bogus"],
                             ["--trainer.gradient_clip_algorithm:", "bogus is invalid", "['value', 'norm']"]),
    "zero_devices": (["--trainer.devices", "0"], ["--trainer.devices:", "devices='0'"]),
    "missing_accelerator": (["--trainer.accelerator", "cuda" if not torch.cuda.is_available() else "mps"],
                            ["--trainer.accelerator:", "not available", "['cpu'"]),
    "seed_below_zero": (["--seed_everything", "-1"],
                        ["--seed_everything must be true, false or a whole number from 0 to 4294967295, got -1"]),
    "seed_too_big": (["--seed_everything", str(2**32)], ["--seed_everything must be", f"got {2**32}"]),
    "hidden_size_0": (["--model.init_args.hidden_size", "0"],
                      ["hidden_size must be a whole number from 1 to 1,048,576, got 0"]),
    "hidden_size_-3": (["--model.init_args.hidden_size", "-3"], ["hidden_size must be a whole number", "got -3"]),
    "embedding_dim_0": (["--model.init_args.embedding_dim", "0"], ["embedding_dim must be a whole number", "got 0"]),
    "head_dropout_1.5": (["--model.init_args.head_dropout", "1.5"], ["head_dropout must be a probability in [0, 1), got 1.5"]),
    "num_layers_0": (["--model.init_args.num_layers", "0"], ["num_layers must be a whole number from 1 to 1,000, got 0"]),
    "lr_0": (["--model.init_args.lr", "0"], ["lr must be a finite number > 0, got 0"]),
}


@pytest.mark.parametrize("case", OPTIONS)
def test_a_rejected_option_is_one_line_naming_it(case, tmp_path, tiny_en_csv, capsys):
    extra, expected = OPTIONS[case]
    line = one_cli_error(capsys, tiny_fit_args(tmp_path / "run", tiny_en_csv, *extra))
    for piece in expected:
        assert piece in line, line
    assert not list(tmp_path.rglob("*.ckpt"))


@pytest.mark.parametrize("option", ["--trainer.default_root_dir", "--checkpoint.dirpath",
                                    "--trainer.logger.init_args.save_dir"])
def test_an_output_folder_under_a_file_fails_before_training(option, tmp_path, tiny_en_csv, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me\n")
    extra = [option, str(a_file / "out")]
    if "logger" in option:
        extra = ["--trainer.logger", "CSVLogger", *extra]
    line = one_cli_error(capsys, tiny_fit_args(tmp_path / "run", tiny_en_csv, *extra))
    assert line == (f"textrnn: error: {option} '{a_file / 'out'}' cannot be a folder: '{a_file}' is a file, "
                    "not a folder")
    assert a_file.read_text() == "keep me\n"
    assert not (tmp_path / "run").exists()  # nothing was trained or written


def test_an_unwritable_checkpoint_folder_fails_before_training(tmp_path, tiny_en_csv, capsys):
    line = one_cli_error(capsys, tiny_fit_args(tmp_path / "run", tiny_en_csv, "--checkpoint.dirpath", "/dev/null/x"))
    assert line == "textrnn: error: --checkpoint.dirpath '/dev/null/x' cannot be a folder: '/dev/null' is a file, not a folder"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("device", ["meta", "xla", "gpu0", "cuda:99"])
def test_classify_refuses_a_device_this_machine_lacks(device, tiny_run, capsys):
    assert classify_main(["--ckpt_path", str(tiny_run.ckpt), "--text", "goal", "--device", device]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"textrnn classify: error: unknown device '{device}' (not one this machine can run a "
                          "model on); valid devices here: cpu") and "Traceback" not in err and err.count("\n") == 1


CONSTRUCTORS = {  # case: (builds the module, the error message)
    "TextRNN hidden_size 0": (lambda: TextRNN(hidden_size=0), "hidden_size must be a whole number from 1 to 1,048,576, got 0"),
    "TextRNN hidden_size 10**7": (lambda: TextRNN(hidden_size=10**7), "hidden_size must be a whole number from 1 to 1,048,576, got 10000000"),
    "TextRNN hidden_size 2.5": (lambda: TextRNN(hidden_size=2.5), "hidden_size must be a whole number from 1 to 1,048,576, got 2.5"),
    "TextRNN embedding_dim 0": (lambda: TextRNN(embedding_dim=0), "embedding_dim must be a whole number from 1 to 1,048,576, got 0"),
    "TextRNN vocab_size 0": (lambda: TextRNN(vocab_size=0), "vocab_size must be a whole number from 1 to 16,777,216, got 0"),
    "TextRNN pad_id outside": (lambda: TextRNN(vocab_size=10, pad_id=10), "pad_id must be a whole number from 0 to 9, got 10"),
    "TextRNN num_classes 1": (lambda: TextRNN(num_classes=1), "num_classes must be a whole number from 2 to 1,048,576, got 1"),
    "TextRNN head_dropout 1.5": (lambda: TextRNN(head_dropout=1.5), "head_dropout must be a probability in [0, 1), got 1.5"),
    "TextRNN embedding_dropout -0.1": (lambda: TextRNN(embedding_dropout=-0.1), "embedding_dropout must be a probability in [0, 1), got -0.1"),
    "TextRNN lr nan": (lambda: TextRNN(lr=float("nan")), "lr must be a finite number > 0, got nan"),
    "TextRNN weight_decay -1": (lambda: TextRNN(weight_decay=-1.0), "weight_decay must be a finite number >= 0, got -1.0"),
    "TextCNN num_filters 0": (lambda: TextCNN(num_filters=0), "num_filters must be a whole number from 1 to 1,048,576, got 0"),
    "TextCNN filter_sizes (3, 0)": (lambda: TextCNN(filter_sizes=(3, 0)), "filter_sizes must be a whole number from 1 to 1,048,576, got 0"),
    "TextCNN dropout 1": (lambda: TextCNN(dropout=1.0), "dropout must be a probability in [0, 1), got 1.0"),
    "SineRNN hidden_size -3": (lambda: SineRNN(hidden_size=-3), "hidden_size must be a whole number from 1 to 1,048,576, got -3"),
    "SineRNN lr 0": (lambda: SineRNN(lr=0), "lr must be a finite number > 0, got 0"),
    "RecurrentEncoder input_size 0": (lambda: RecurrentEncoder(0), "input_size must be a whole number from 1 to 1,048,576, got 0"),
    "cell hidden_size 0": (lambda: make_cell("gru", 4, 0), "hidden_size must be a whole number from 1 to 1,048,576, got 0"),
    "ConvEncoder filter_sizes empty": (lambda: ConvEncoder(8, ()), "filter_sizes must be a non-empty list of window widths in tokens, got ()"),
    "attention input_size 0": (lambda: TimePooling("attention", 0), "input_size must be a whole number from 1 to 1,048,576, got 0"),
    "word_embedding dim True": (lambda: word_embedding(10, True, 0), "embedding_dim must be a whole number from 1 to 1,048,576, got True"),
}


@pytest.mark.parametrize("case", CONSTRUCTORS)
def test_constructors_name_the_bad_argument(case):
    build, message = CONSTRUCTORS[case]
    with pytest.raises(ValueError) as error:
        build()
    assert str(error.value) == message


def test_edge_values_are_accepted():
    model = TextRNN(vocab_size=1, pad_id=0, embedding_dim=1, hidden_size=1, num_classes=2, head_dropout=0.0,
                    embedding_dropout=0.0, weight_decay=0)
    assert model(torch.zeros(1, 3, dtype=torch.long), torch.tensor([3])).shape == (1, 2)
    assert TextCNN(vocab_size=5, filter_sizes=[1], num_filters=1).encoder.output_size == 1
