"""Bad input ends in one clear error naming the bad value and what is valid, or in a documented behaviour
(README "Bad input"). Cases already covered elsewhere are not repeated here: a missing text column, test
labels unseen in training, fractional float labels, an empty test file and an offline Hub name at the
datamodule level (tests/data/test_text.py); an unknown cell name through the CLI (tests/cli/test_cli.py);
an empty string through `textrnn.load(...).predict` (tests/test_inference.py)."""

import csv
import warnings
from pathlib import Path

import pytest
import torch

import textrnn
from reliability_helpers import one_cli_error
from tiny_args import tiny_fit_args
from textrnn.data import TextDataModule, build_tokenizer

TWO_CLASSES = [(f"the striker scored goal {i}", "sports") for i in range(6)] + [
    (f"the chef baked bread {i}", "food") for i in range(6)
]


def write_csv(path: Path, rows, header=("text", "label")) -> str:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def write_bytes(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


# ---- through the CLI: one `textrnn: error:` line, exit code 2 ----------------------------------------

DATA_FILES = {  # case: (writes the data file, the pieces the error line must hold)
    "header_only": (lambda p: write_csv(p, []), ["split 'train' is empty", "no rows"]),
    "zero_bytes": (lambda p: write_bytes(p, b""), ["data.csv' is empty (0 bytes)"]),
    "single_class": (lambda p: write_csv(p, [(f"goal {i}", "sports") for i in range(9)]),
                     ["single class, 'sports'", "label column 'label'", "at least 2"]),
    "blank_texts_only": (lambda p: write_csv(p, [("", "a"), ("  ", "b"), ("\t\n", "a")]),
                         ["split 'train' has no text", "3 rows are empty or whitespace only"]),
    "not_utf8": (lambda p: write_bytes(p, b"text,label\nchips,food\nCaf\xe9 au lait,food\n"),
                 ["data.csv' is not valid UTF-8", "byte 0xe9", "line 3", "iconv"]),
    "missing_label_column": (lambda p: write_csv(p, TWO_CLASSES, header=("text", "category")),
                             ["label column 'label' not in split 'train'", "columns found: ['text', 'category']"]),
    "missing_file": (lambda p: str(p), ["Unable to find", "data.csv"]),
}


@pytest.mark.parametrize("case", DATA_FILES)
def test_bad_data_file_ends_in_one_error_line(case, tmp_path, capsys):
    write, expected = DATA_FILES[case]
    data_file = write(tmp_path / "data.csv")
    line = one_cli_error(capsys, tiny_fit_args(tmp_path, data_file))
    for piece in expected:
        assert piece in line, line


OPTIONS = {  # case: (extra CLI arguments, or a YAML config's text; the pieces the error line must hold)
    "offline_hub_name": (["--data.init_args.dataset", "ag_news"], ["'ag_news'", "--data.dataset csv"]),
    "unknown_pooling": (["--model.init_args.pooling", "maxx"], ["'maxx'", "'last', 'max', 'mean', 'attention'"]),
    "typo_in_config_file": ("model:\n  init_args:\n    hiden_size: 16\n",
                            ["unknown option 'hiden_size' for TextRNN", "did you mean 'hidden_size'?",
                             "valid options: vocab_size"]),
    "typo_in_trainer_key": (["--trainer.max_epochx", "1"],
                            ["unknown option 'trainer.max_epochx'", "did you mean 'trainer.max_epochs'?"]),
    "typo_in_data_key": (["--data.init_args.batch_sise", "8"],
                         ["unknown option 'batch_sise' for TextDataModule", "did you mean 'batch_size'?"]),
}


@pytest.mark.parametrize("case", OPTIONS)
def test_bad_option_ends_in_one_error_line(case, tmp_path, tiny_en_csv, capsys):
    extra, expected = OPTIONS[case]
    if isinstance(extra, str):
        (tmp_path / "typo.yaml").write_text(extra)
        extra = ["--config", str(tmp_path / "typo.yaml")]
    line = one_cli_error(capsys, tiny_fit_args(tmp_path, tiny_en_csv, *extra))
    for piece in expected:
        assert piece in line, line


# ---- documented behaviours ------------------------------------------------------------------------------


def test_blank_texts_are_dropped_with_a_warning(tmp_path):
    train = write_csv(tmp_path / "train.csv", [*TWO_CLASSES, ("", "food"), ("  \t\n", "sports")])
    test = write_csv(tmp_path / "test.csv", [("the striker", "sports"), (" ", "food"), ("bread", "food")])
    dm = TextDataModule(dataset="csv", data_files={"train": train, "test": test}, batch_size=4)
    with pytest.warns(UserWarning) as caught:
        dm.setup()
    messages = [str(w.message) for w in caught]
    assert any("dropped 2 empty or whitespace-only text(s) from split 'train' (rows [12, 13])" in m for m in messages)
    assert any("dropped 1 empty or whitespace-only text(s) from split 'test' (rows [1])" in m for m in messages)
    assert dm.texts("test") == ["the striker", "bread"] and dm.labels("test") == [1, 0]
    assert all(text.strip() for split in ("train", "validation") for text in dm.texts(split))


def test_a_single_class_test_split_is_fine(tmp_path):
    train = write_csv(tmp_path / "train.csv", TWO_CLASSES)
    test = write_csv(tmp_path / "test.csv", [("the striker", "sports"), ("a goal", "sports")])
    dm = TextDataModule(dataset="csv", data_files={"train": train, "test": test})
    assert dm.label_names == ["food", "sports"] and dm.labels("test") == [1, 1]


def test_whole_number_float_labels_are_classes(tmp_path):
    rows = [(text, float(label == "sports")) for text, label in TWO_CLASSES]  # 0.0 / 1.0, as pandas reads them
    dm = TextDataModule(dataset="csv", data_files=write_csv(tmp_path / "floats.csv", rows))
    assert dm.label_names == ["0", "1"]


def test_a_million_character_text_is_truncated_not_a_crash(tmp_path):
    huge = "goal " * 200_000  # 1,000,000 characters
    files = write_csv(tmp_path / "huge.csv", [*TWO_CLASSES, (huge, "sports")])
    dm = TextDataModule(dataset="csv", data_files=files, max_length=64, val_fraction=0.2, test_fraction=0.2)
    lengths = [len(ids) for split in ("train", "validation", "test") for ids in
               [dm.encoded(split).ids(i) for i in range(len(dm.texts(split)))]]
    assert max(lengths) == 64 and len(huge) == 1_000_000


def test_control_characters_emoji_and_mixed_scripts_tokenize(tmp_path):
    rows = [("goal⚽match \x00\x07 striker\u200b", "sports"), ("Café 咖啡 кофе قهوة 🍕", "food"),
            ("\x1bthe derby\x7f", "sports"), ("bread \ufeffoven", "food")]
    rows = [(f"{text} {i}", label) for i in range(3) for text, label in rows]  # distinct, so none is deduplicated
    dm = TextDataModule(dataset="csv", data_files={"train": write_csv(tmp_path / "mixed.csv", rows),
                                                   "test": write_csv(tmp_path / "test.csv", rows[:2])})
    vocab = set(dm.tokenizer.get_vocab())
    assert {"goal", "⚽", "match", "café", "咖", "啡", "кофе", "قهوة", "🍕", "striker", "derby"} <= vocab
    assert not any(ch in token for token in vocab for ch in "\x00\x07\x1b\x7f\u200b\ufeff")  # cleaned away
    assert build_tokenizer(["goal ⚽"]).encode("goal⚽").tokens == ["goal", "⚽"]  # emoji are words of their own


def test_odd_texts_still_get_predictions(tiny_run):
    clf = textrnn.load(tiny_run.ckpt, device="cpu")
    texts = ["", "   \n\t", "\x00\x07", "goal " * 200_000, "goal⚽ 咖啡 кофе قهوة 🍕"]
    probs = clf.predict_proba(texts)
    assert probs.shape == (len(texts), 3) and torch.isfinite(probs).all()
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(len(texts)))
    # Text with no token at all is read as one unknown token: the same prediction every time.
    torch.testing.assert_close(probs[0], probs[1])
    torch.testing.assert_close(probs[0], probs[2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warnings either
        clf.predict([""])
    with pytest.raises(ValueError, match=r"text 1 is not valid Unicode: '\\ud800' at character 2"):
        clf.predict(["fine", "a \ud800 b"])  # a lone surrogate, as json.loads('"\\ud800"') gives


def test_classify_names_a_non_utf8_input_file(tiny_run, tmp_path, capsys):
    from textrnn.cli.classify import main as classify_main

    texts = write_bytes(tmp_path / "latin1.txt", "Café au lait\nthe derby\n".encode("latin-1"))
    assert classify_main(["--ckpt_path", str(tiny_run.ckpt), "--input", texts]) == 2
    err = capsys.readouterr().err
    assert "latin1.txt' is not valid UTF-8 (byte 0xe9)" in err and "iconv" in err and "Traceback" not in err
