"""Language-model data: windows cover every neighbouring pair once, training windows hold only training
and unlabelled text (never a validation or test text), and unlabelled files of every format are read."""

import csv
import json

import numpy as np
import pytest

from textrnn.data import EncodedSplit, LanguageModelDataModule, TokenWindows


class FakeSplit:
    """Just what TokenWindows reads: lengths and ``split[i][0]``."""

    def __init__(self, texts):
        self.texts = [np.asarray(t) for t in texts]
        self.lengths = np.array([len(t) for t in texts])

    def __len__(self):
        return len(self.texts)

    def __getitem__(self, i):
        return self.texts[i], 0, i


def pairs(ids):
    return {(int(a), int(b)) for a, b in zip(ids[:-1], ids[1:])}


@pytest.mark.parametrize("bptt", [2, 3, 5, 100])
def test_windows_cover_every_neighbouring_pair_and_stay_within_bptt(bptt):
    texts = [list(range(10, 10 + n)) for n in (1, 2, 7, 12)]
    windows = TokenWindows([FakeSplit(texts)], bptt)
    seen = []
    for i in range(len(windows)):
        ids, _, index = windows[i]
        assert 2 <= len(ids) <= bptt and index == i
        seen += sorted(pairs(ids))
    expected = sorted(p for t in texts for p in pairs(t))
    assert sorted(seen) == expected  # each pair exactly once: the windows overlap by one token
    assert windows.lengths.tolist() == [len(windows[i][0]) for i in range(len(windows))]


def test_windows_refuse_a_bptt_below_two():
    with pytest.raises(ValueError, match="bptt must be >= 2"):
        TokenWindows([FakeSplit([[1, 2, 3]])], 1)


def write_csv(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def marked_data(tmp_path):
    """Train, validation and test files in which only the held-out texts hold the bigram "omega omega"
    (both words are in the training vocabulary), and unlabelled files that hold "omega beta"."""
    words = "alpha beta gamma delta epsilon zeta eta theta".split()
    train = [(" ".join(words[i % 8 :] + words[: i % 8]) + " omega alpha", "ab"[i % 2]) for i in range(30)]
    held_out = [(f"{words[i % 8]} omega omega {words[(i + 3) % 8]}", "ab"[i % 2]) for i in range(6)]
    files = {"train": write_csv(tmp_path / "train.csv", train),
             "validation": write_csv(tmp_path / "val.csv", held_out[:3]),
             "test": write_csv(tmp_path / "test.csv", held_out[3:])}
    (tmp_path / "more.txt").write_text("omega beta omega beta\ngamma omega beta\n")
    (tmp_path / "more.jsonl").write_text("\n".join(json.dumps({"body": "beta omega beta"}) for _ in range(3)))
    return files, tmp_path


def test_training_windows_never_hold_validation_or_test_text(marked_data, tmp_path):
    files, folder = marked_data
    data = LanguageModelDataModule(dataset="csv", data_files=files, bptt=4, batch_size=4,
                                   unlabelled_files=[str(folder / "more.txt")], cache_dir=str(tmp_path / "cache"))
    omega, beta = data.tokenizer.token_to_id("omega"), data.tokenizer.token_to_id("beta")
    assert omega is not None and beta is not None
    train = set()
    for batch in data.train_dataloader():
        for ids, n in zip(batch["ids"], batch["lengths"]):
            train |= pairs(ids[:n].tolist())
    held_out = set()
    for split in ("validation", "test"):
        for i in range(len(data.windows(split))):
            held_out |= pairs(data.windows(split)[i][0])
    assert (omega, omega) in held_out  # the check below could fail
    assert (omega, omega) not in train
    assert (omega, beta) in train  # the unlabelled file is trained on


def test_unlabelled_files_of_every_format(marked_data, tmp_path):
    files, folder = marked_data
    base = LanguageModelDataModule(dataset="csv", data_files=files, bptt=4, cache_dir=str(tmp_path / "c"))
    with_jsonl = LanguageModelDataModule(dataset="csv", data_files=files, bptt=4, cache_dir=str(tmp_path / "c"),
                                         unlabelled_files=[str(folder / "more.jsonl")], unlabelled_column="body")
    # three JSON lines of 3 tokens: one extra window each (bptt 4 covers 3 tokens in one window)
    assert len(with_jsonl.windows("train")) == len(base.windows("train")) + 3
    assert with_jsonl.windows("train").tokens == base.windows("train").tokens + 9
    bad = LanguageModelDataModule(dataset="csv", data_files=files, bptt=4, cache_dir=str(tmp_path / "c"),
                                  unlabelled_files=[str(folder / "more.jsonl")])
    with pytest.raises(ValueError, match="no column 'text'.*body"):
        bad.windows("train")
    with pytest.raises(ValueError, match="unknown format '.xml'"):
        LanguageModelDataModule(dataset="csv", data_files=files, unlabelled_files=["texts.xml"])
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        LanguageModelDataModule(dataset="csv", data_files=files, unlabelled_files=[str(folder / "missing.txt")])


def test_same_data_same_vocabulary_as_the_classifier(tiny_en_csv, tmp_path):
    """The language model's data gives the classifier's split and vocabulary (only truncation differs)."""
    from textrnn.data import TextDataModule
    from textrnn.models.pretrained import tokenizer_signature

    lm = LanguageModelDataModule(dataset="csv", data_files=tiny_en_csv, max_length=1000, cache_dir=str(tmp_path))
    clf = TextDataModule(dataset="csv", data_files=tiny_en_csv, max_length=64, cache_dir=str(tmp_path))
    assert tokenizer_signature(lm.tokenizer) == tokenizer_signature(clf.tokenizer)
    for split in ("train", "validation", "test"):
        assert lm.texts(split) == clf.texts(split)
    assert isinstance(lm.encoded("train"), EncodedSplit)
