"""An exported folder is checked as strictly as a checkpoint: every tampered, mismatched or linked-out file is
one clear error from `textrnn.load(DIR)` and one line from `textrnn classify`, never a traceback."""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

import textrnn
from textrnn.cli.classify import main as classify_main
from textrnn.inference.checkpoints import CheckpointError

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory) -> Path:
    from textrnn.inference.onnx import export

    return export(tiny_run.ckpt, tmp_path_factory.mktemp("export") / "model")


def edit_json(name, change):
    def edit(folder):
        data = json.loads((folder / name).read_text())
        change(data)
        (folder / name).write_text(json.dumps(data))
    return edit


def card(**entries):
    return edit_json("model.json", lambda data: data.update(entries))


def both_class_counts(n):
    def edit(folder):
        card_edit = card(num_classes=n)
        card_edit(folder)
        edit_json("model.json", lambda data: data["hyper_parameters"].update(num_classes=n))(folder)
        (folder / "labels.json").write_text(json.dumps([f"class{i}" for i in range(n)]))
    return edit


def other_graph(num_classes, vocab_size=None):
    """model.onnx replaced by another model's: same inputs and outputs, other sizes."""
    def edit(folder):
        from textrnn.inference.onnx import export_onnx
        from textrnn.models import TextCNN

        vocab = json.loads((folder / "model.json").read_text())["vocab_size"]
        model = TextCNN(vocab_size or vocab, num_classes, 0, embedding_dim=4, num_filters=2, filter_sizes=(2,))
        export_onnx(model, folder / "model.onnx", vocab_size or vocab)
    return edit


def link_out(name):
    def edit(folder):
        outside = folder.parent / f"outside-{name}"
        shutil.move(folder / name, outside)
        os.symlink(outside, folder / name)
    return edit


def other_tokenizer(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1, "goal": 2}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(folder / "tokenizer.json"))


def truncate_at(n):
    def edit(folder):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(n)
        tokenizer.save(str(folder / "tokenizer.json"))
    return edit


CASES = {  # tampering -> what the one error says
    "labels_one_more": (lambda f: (f / "labels.json").write_text('["food", "sports", "tech", "x"]'),
                        "4 class names in labels.json for a model of 3 classes"),
    "labels_and_card_one_more": (both_class_counts(4), "returns 3 class probabilities per text, but model.json and "
                                                       "labels.json name 4 classes"),
    "graph_of_4_classes": (other_graph(4), "returns 4 class probabilities per text, but model.json and labels.json "
                                           "name 3 classes"),
    "graph_of_a_smaller_vocabulary": (other_graph(3, vocab_size=5), "cannot classify a text of token id"),
    "labels_repeat": (lambda f: (f / "labels.json").write_text('["food", "food", "tech"]'), "repeat ['food']"),
    "labels_not_strings": (lambda f: (f / "labels.json").write_text("[1, 2, 3]"), "must hold a JSON list of class names"),
    "labels_not_json": (lambda f: (f / "labels.json").write_text("food, sports"), "is not valid JSON"),
    "labels_not_utf8": (lambda f: (f / "labels.json").write_bytes(b'["caf\xe9"]'), "is not valid JSON"),
    "card_num_classes_text": (card(num_classes="3"), "num_classes is '3'; it must be a whole number from 2"),
    "card_num_classes_bool": (card(num_classes=True), "num_classes is True"),
    "card_vocab_negative": (card(vocab_size=-1), "vocab_size is -1; it must be a whole number from 1"),
    "card_pad_id_outside": (card(pad_id=10**9), "pad_id is 1000000000; it must be a token id below vocab_size"),
    "card_max_length_zero": (card(max_length=0), "max_length is 0; it must be null or a whole number >= 1"),
    "card_version_bool": (card(format_version=True), "was exported in format version True"),
    "card_parity_nan": (card(export_parity=float("nan")), "export_parity is nan; it must be a finite number"),
    "card_foreign_class": (card(model_class="this.Zen"), "refusing model class 'this.Zen' named by 'model_class'"),
    "card_sine_class": (card(model_class="SineRNN"), "a SineRNN is not a TextClassifier"),
    "card_class_path_argument": (edit_json("model.json", lambda d: d["hyper_parameters"].update(class_path="this.Zen")),
                                 "hyper_parameters holds 'class_path', which is not an argument of TextRNN"),
    "card_argument_type": (edit_json("model.json", lambda d: d["hyper_parameters"].update(hidden_size="16")),
                           "hyper_parameters 'hidden_size' is '16' (str); TextRNN takes int"),
    "card_contradicts_itself": (card(vocab_size=7), "hyper_parameters vocab_size is"),
    "card_missing_entry": (edit_json("model.json", lambda d: d.pop("vocab_size")), "lacks 'vocab_size'"),
    "card_not_a_card": (lambda f: (f / "model.json").write_text("[]"), "is not a textrnn export card"),
    "tokenizer_garbage": (lambda f: (f / "tokenizer.json").write_text('{"model": 5}'), "cannot be read"),
    "tokenizer_not_utf8": (lambda f: (f / "tokenizer.json").write_bytes(b"\xff\xfe{}"), "is not valid UTF-8 JSON"),
    "tokenizer_of_another_model": (other_tokenizer, "tokenizer.json has 3 tokens but the model was exported for"),
    "tokenizer_truncates_elsewhere": (truncate_at(7), "tokenizer.json truncates texts at 7 tokens but model.json says "
                                                      "max_length 400"),
    "labels_linked_out": (link_out("labels.json"), "is a link to"),
    "graph_linked_out": (link_out("model.onnx"), "outside the folder"),
    "onnx_not_a_model": (lambda f: (f / "model.onnx").write_bytes(b"not a model"), "not a model ONNX Runtime can load"),
    "card_missing": (lambda f: (f / "model.json").unlink(), "lacks ['model.json']"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_tampered_export_is_one_clear_error(case, exported, tmp_path, capsys):
    tamper, words = CASES[case]
    folder = tmp_path / "copy"
    shutil.copytree(exported, folder)
    tamper(folder)
    with pytest.raises(CheckpointError) as error:
        textrnn.load(folder)
    assert words in str(error.value), str(error.value)
    assert classify_main(["--ckpt_path", str(folder), "--text", "goal"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("textrnn classify: error: ") and len(err.splitlines()) == 1 and words in err, err


def test_the_untampered_export_and_a_link_inside_the_folder_load(exported, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(exported, folder)
    (folder / "keep").mkdir()
    shutil.move(folder / "labels.json", folder / "keep" / "labels.json")
    os.symlink(Path("keep") / "labels.json", folder / "labels.json")
    clf = textrnn.load(folder)
    assert clf.label_names == ["food", "sports", "tech"]
    probs = clf.predict_proba(["the striker scored", "goal " * 500])
    assert probs.shape == (2, 3) and torch.allclose(probs.sum(dim=1), torch.ones(2), atol=1e-5)
