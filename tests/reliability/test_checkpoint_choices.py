"""A checkpoint chooses nothing, and everything read from one is checked before use.

Whatever keys a checkpoint's hyper-parameters hold (``class_path``, ``_class_path``, ``init_args``, nested
dicts), no module is imported and no class but the config's (or, for `textrnn.load`, the checkpoint's
allow-listed textrnn model) is built; label names, sizes, types, tokenizer, loader and random state are
checked by one function, `check_checkpoint`, on every path: ``--ckpt_path`` of fit/validate/test/predict,
`textrnn.load` and ``textrnn classify``."""

import sys
from pathlib import Path

import pytest
import torch

import textrnn
from reliability_helpers import one_cli_error
from textrnn.cli.classify import main as classify_main
from textrnn.models import TextCNN

ZEN = "Beautiful is better than ugly"
FOREIGN_MODULES = ("this", "lightning.pytorch.demos.boring_classes", "antigravity")


def tampered(tiny_run, folder: Path, name: str, **changes) -> Path:
    """tiny_run's checkpoint with ``changes`` applied: ``hyper_parameters``, ``textrnn`` (textrnn's record)
    and ``callbacks`` entries are merged into the stored dicts; other keys replace."""
    checkpoint = torch.load(tiny_run.ckpt, weights_only=True)
    for key, value in changes.items():
        merge = key in ("hyper_parameters", "textrnn", "callbacks") and isinstance(value, dict)
        checkpoint[key] = {**checkpoint[key], **value} if merge else value
    path = folder / f"{name}.ckpt"
    torch.save(checkpoint, path)
    return path


def assert_nothing_imported(capsys_text: str) -> None:
    assert ZEN not in capsys_text
    for module in FOREIGN_MODULES:
        assert module not in sys.modules, module


CHOOSERS = {  # case: the hyper_parameters a hostile checkpoint holds, the pieces of the error line
    "class_path_alone": ({"class_path": "this.Zen"}, None, ["hyper_parameters holds 'class_path', which is not an "
                                                             "argument of TextRNN; valid: vocab_size"]),
    "class_path_among_good_keys": ({"class_path": "this.Zen", "init_args": {}}, "merge",
                                   ["hyper_parameters holds 'class_path'"]),
    "lightning_demo_model": ({"_class_path": "lightning.pytorch.demos.boring_classes.BoringModel"}, "merge",
                             ["refusing model class 'lightning.pytorch.demos.boring_classes.BoringModel' named by "
                              "'hyper_parameters._class_path'", "only textrnn's own models (TextRNN, TextCNN, SineRNN, LanguageModel)"]),
    "init_args": ({"init_args": {"hidden_size": 16}}, "merge", ["hyper_parameters holds 'init_args'"]),
    "nested_dict_value": ({"cell": {"class_path": "antigravity.Fly"}}, "merge",
                          ["hyper_parameters 'cell' is {'class_path': 'antigravity.Fly'} (dict); TextRNN takes one of 'rnn', 'lstm', 'gru'"]),
    "foreign_textrnn_model": ({}, "textrnn_model", ["refusing model class 'this.Zen' named by 'textrnn.model_class'"]),
}


def chooser_checkpoint(case: str, tiny_run, folder: Path) -> Path:
    hparams, how, _ = CHOOSERS[case]
    if how == "textrnn_model":
        return tampered(tiny_run, folder, case, textrnn={"model_class": "this.Zen"})
    if how == "merge":  # added to the real hyper-parameters
        return tampered(tiny_run, folder, case, hyper_parameters=hparams)
    checkpoint = torch.load(tiny_run.ckpt, weights_only=True)
    checkpoint["hyper_parameters"] = hparams  # in place of the real ones
    torch.save(checkpoint, folder / f"{case}.ckpt")
    return folder / f"{case}.ckpt"


@pytest.mark.parametrize("case", CHOOSERS)
def test_a_checkpoint_cannot_choose_a_class_through_the_cli(case, tiny_run, tmp_path, capsys):
    ckpt = chooser_checkpoint(case, tiny_run, tmp_path)
    line = one_cli_error(capsys, ["test", "--config", str(tiny_run.config), "--ckpt_path", str(ckpt)])
    for piece in CHOOSERS[case][2]:
        assert piece in line, line
    assert_nothing_imported(line)


@pytest.mark.parametrize("subcommand", ["fit", "validate", "predict"])
def test_every_subcommand_refuses_a_chooser(subcommand, tiny_run, tmp_path, capsys):
    ckpt = chooser_checkpoint("class_path_alone", tiny_run, tmp_path)
    line = one_cli_error(capsys, [subcommand, "--config", str(tiny_run.config), "--ckpt_path", str(ckpt),
                                  "--trainer.default_root_dir", str(tmp_path / "run")])
    assert "hyper_parameters holds 'class_path'" in line
    assert_nothing_imported(line)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("case", CHOOSERS)
def test_load_and_classify_refuse_a_chooser(case, tiny_run, tmp_path, capsys):
    ckpt = chooser_checkpoint(case, tiny_run, tmp_path)
    with pytest.raises(textrnn.CheckpointError) as error:
        textrnn.load(ckpt)
    assert classify_main(["--ckpt_path", str(ckpt), "--text", "goal"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and str(error.value) in " ".join(err.split())
    assert_nothing_imported(err)


def test_the_datamodule_hyper_parameters_choose_nothing(tiny_run, tmp_path, capsys):
    ckpt = tampered(tiny_run, tmp_path, "dm", datamodule_hyper_parameters={"class_path": "this.Zen", "init_args": {}},
                    datamodule_hparams_name="this.Zen")
    from textrnn.cli.app import run_cli

    run_cli(["test", "--config", str(tiny_run.config), "--ckpt_path", str(ckpt),
             "--trainer.default_root_dir", str(tmp_path)])
    assert textrnn.load(ckpt).label_names == ["food", "sports", "tech"]
    assert_nothing_imported(capsys.readouterr().out)


def textcnn_checkpoint(tiny_run, path: Path) -> Path:
    """A TextCNN checkpoint over tiny_run's vocabulary and labels."""
    checkpoint = torch.load(tiny_run.ckpt, weights_only=True)
    vocab_size = checkpoint["hyper_parameters"]["vocab_size"]
    cnn = TextCNN(vocab_size=vocab_size, num_classes=3, embedding_dim=16, num_filters=4)
    checkpoint["textrnn"]["model_class"] = "textrnn.models.text_cnn.TextCNN"
    checkpoint.update(state_dict=cnn.state_dict(),
                      hyper_parameters={"_class_path": "textrnn.models.TextCNN", **cnn.hparams})
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
    return path


def test_a_textcnn_checkpoint_with_a_textrnn_config_is_refused_naming_both(tiny_run, tmp_path, capsys):
    ckpt = textcnn_checkpoint(tiny_run, tmp_path / "cnn.ckpt")
    line = one_cli_error(capsys, ["test", "--config", str(tiny_run.config), "--ckpt_path", str(ckpt)])
    assert line == (f"textrnn: error: '{ckpt}' holds a TextCNN but the config builds a TextRNN; use "
                    "the config it was trained with (its run's config.yaml) or --model TextCNN")
    assert type(textrnn.load(ckpt).model) is TextCNN  # alone, it is what it says it is


def test_resuming_last_from_another_model_class_is_refused_naming_both(tiny_run, tmp_path, capsys):
    last = textcnn_checkpoint(tiny_run, tmp_path / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt")
    line = one_cli_error(capsys, ["fit", "--config", str(tiny_run.config), "--trainer.default_root_dir", str(tmp_path),
                                  "--ckpt_path", "last", "--trainer.logger", "true"])
    assert f"'{last}' holds a TextCNN but the config builds a TextRNN" in line, line


def test_two_recorded_classes_that_disagree_are_refused(tiny_run, tmp_path):
    ckpt = tampered(tiny_run, tmp_path, "two", textrnn={"model_class": "textrnn.models.text_cnn.TextCNN"})
    with pytest.raises(textrnn.CheckpointError, match="names two model classes"):
        textrnn.load(ckpt)


# ---- every value read is checked before use ------------------------------------------------------------

BAD_VALUES = {  # case: (changes to the checkpoint, the error's pieces)
    "labels_too_few": ({"textrnn": {"label_names": ["food", "sports"]}},
                       ["2 label names ['food', 'sports'] for a model of 3 classes"]),
    "labels_int": ({"textrnn": {"label_names": 3}}, ["label_names must be a list of strings, got 3"]),
    "labels_string": ({"textrnn": {"label_names": "abc"}}, ["label_names must be a list of strings, got 'abc'"]),
    "labels_not_strings": ({"textrnn": {"label_names": [1, 2, 3]}}, ["label_names must be a list of strings"]),
    "labels_duplicated": ({"textrnn": {"label_names": ["food", "food", "tech"]}},
                          ["label_names ['food', 'food', 'tech'] repeat ['food']"]),
    "hidden_size_huge": ({"hyper_parameters": {"hidden_size": 10**7}},
                         ["cannot rebuild TextRNN from its hyper_parameters: hidden_size must be a whole number from 1 "
                          "to 1,048,576, got 10000000"]),
    "hidden_size_negative": ({"hyper_parameters": {"hidden_size": -1}}, ["hidden_size must be a whole number", "got -1"]),
    # Within the bound but 2**40 LSTM weights: only built on the meta device, never allocated.
    "hidden_size_at_bound": ({"hyper_parameters": {"hidden_size": 2**20}},
                             ["do not fit this TextRNN (checkpoint vs model: ", "vs (4194304, 16)"]),
    "hidden_size_a_string": ({"hyper_parameters": {"hidden_size": "16"}},
                             ["hyper_parameters 'hidden_size' is '16' (str); TextRNN takes int"]),
    "dropout_nan": ({"hyper_parameters": {"head_dropout": float("nan")}}, ["'head_dropout' is nan (float); TextRNN takes float"]),
    "bidirectional_a_string": ({"hyper_parameters": {"bidirectional": "no"}}, ["'bidirectional' is 'no' (str); TextRNN takes bool"]),
    "hparams_a_list": ({"hyper_parameters": [1, 2]}, ["its 'hyper_parameters' is a list, not a dict"]),
    "tokenizer_garbage": ({"textrnn": {"tokenizer": "{not json"}}, ["the stored tokenizer cannot be read"]),
    "tokenizer_not_text": ({"textrnn": {"tokenizer": 7}}, ["the stored tokenizer is a int, not a JSON string"]),
    "weights_missing": ({"state_dict": {}}, ["do not fit this TextRNN", "embedding.weight missing"]),
    "loader_state_negative": ({"loops": {"fit_loop": {"state_dict": {"combined_loader": [{"epoch": -1, "batches_done": 2}]}}}},
                              ["the data loader state [{'epoch': -1, 'batches_done': 2}] is not a list of"]),
    "rng_state_truncated": ({"callbacks": {"ResumeRNGState": {"torch": torch.zeros(7, dtype=torch.uint8)}}},
                            ["the random state is not a torch generator state (found a torch.uint8 tensor of shape (7,)"]),
    "rng_state_a_string": ({"callbacks": {"ResumeRNGState": {"torch": "seed"}}},
                           ["the random state is not a torch generator state"]),
}


@pytest.mark.parametrize("case", BAD_VALUES)
def test_load_and_classify_check_every_value(case, tiny_run, tmp_path, capsys):
    changes, pieces = BAD_VALUES[case]
    ckpt = tampered(tiny_run, tmp_path, case, **changes)
    with pytest.raises(textrnn.CheckpointError) as error:
        textrnn.load(ckpt)
    for piece in pieces:
        assert piece in str(error.value), str(error.value)
    assert f"'{ckpt}'" in str(error.value)  # every message names the file
    assert classify_main(["--ckpt_path", str(ckpt), "--text", "goal"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and pieces[0] in " ".join(err.split()), err


@pytest.mark.parametrize("case", ["labels_duplicated", "hidden_size_huge", "loader_state_negative", "rng_state_truncated"])
def test_resuming_from_a_bad_checkpoint_is_one_line(case, tiny_run, tmp_path, capsys):
    changes, pieces = BAD_VALUES[case]
    ckpt = tampered(tiny_run, tmp_path, case, **changes)
    line = one_cli_error(capsys, ["fit", "--config", str(tiny_run.config), "--ckpt_path", str(ckpt),
                                  "--trainer.default_root_dir", str(tmp_path / "run"), "--trainer.max_epochs", "3"])
    for piece in pieces:
        assert piece in line, line


def test_the_rng_callback_checks_the_state_it_is_given():
    from textrnn.callbacks.training import ResumeRNGState

    with pytest.raises(textrnn.CheckpointError, match="not a torch generator state"):
        ResumeRNGState().load_state_dict({"torch": torch.ones(5056, dtype=torch.float32)})
    ResumeRNGState().load_state_dict({"torch": torch.get_rng_state()})  # a real state is fine


def test_a_choice_outside_its_literal_type_is_refused_before_the_model_is_built(tiny_run, tmp_path):
    checkpoint = torch.load(tiny_run.ckpt, weights_only=True)
    checkpoint["hyper_parameters"]["pooling"] = "median"
    path = tmp_path / "median.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(textrnn.CheckpointError, match=r"'pooling' is 'median' \(str\); TextRNN takes one of 'last', "):
        textrnn.load(path)
