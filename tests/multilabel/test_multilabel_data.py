"""Multi-label data: every label format gives the same label sets, empty sets are kept, bad inputs are one
clear error naming file/split, row and label, the split is seeded and stratified by the rarest label, and
the built-in bbc_news_multilabel set keeps every article in one split."""

import json
import logging
from collections import Counter

import numpy as np
import pytest
import torch

from textrnn.data import TextDataModule
from textrnn.data.bbc_multilabel import build_examples
from textrnn.data.multilabel import rarest_label_strata
from ml_helpers import LABELS, multilabel_rows, write_delimited_csv, write_indicator_csv, write_jsonl, write_parquet

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def rows():
    return multilabel_rows()


def sets_by_text(data):
    return {text: tuple(labels) for split in SPLITS for text, labels in zip(data.texts(split), data.label_sets(split))}


@pytest.fixture(scope="module")
def formats(rows, tmp_path_factory):
    """The same data as a JSONL list column, a Parquet list column, a '|' string, a ';' string and 0/1 columns."""
    folder = tmp_path_factory.mktemp("formats")
    return {
        "jsonl": dict(dataset="json", data_files=write_jsonl(folder / "a.jsonl", rows), label_column="labels"),
        "parquet": dict(dataset="parquet", data_files=write_parquet(folder / "a.parquet", rows), label_column="labels"),
        "pipe": dict(dataset="csv", data_files=write_delimited_csv(folder / "a.csv", rows), label_column="tags",
                     multi_label=True),
        "semicolon": dict(dataset="csv", data_files=write_delimited_csv(folder / "b.csv", rows, "; "),
                          label_column="tags", label_separator=";"),
        "columns": dict(dataset="csv", data_files=write_indicator_csv(folder / "c.csv", rows), label_columns=LABELS),
    }


def test_every_label_format_gives_the_same_label_sets_and_splits(rows, formats):
    truth = {row["text"]: tuple(row["labels"]) for row in rows}
    reference = None
    for name, options in formats.items():
        data = TextDataModule(batch_size=8, **options)
        assert data.multi_label, name
        assert data.label_names == sorted(LABELS) and data.num_classes == 3, name
        found = sets_by_text(data)
        assert found == {text: truth[text] for text in found}, name  # every text keeps its own set
        assert sum(len(data.texts(s)) for s in SPLITS) == len(rows)  # nothing lost
        split_texts = {s: data.texts(s) for s in SPLITS}
        if reference is None:
            reference = split_texts
        assert split_texts == reference, name  # the same seeded split whatever the format
    assert Counter(len(labels) for labels in truth.values()).keys() == {0, 1, 2}


def test_batches_carry_multi_hot_float_labels(formats):
    data = TextDataModule(batch_size=8, **formats["jsonl"])
    batch = next(iter(data.train_dataloader()))
    assert batch["labels"].dtype == torch.float32 and batch["labels"].shape == (len(batch["ids"]), 3)
    assert set(batch["labels"].unique().tolist()) <= {0.0, 1.0}
    train = data.label_sets("train")
    for row, index in zip(batch["labels"].tolist(), batch["index"].tolist()):
        assert [name for name, bit in zip(data.label_names, row) if bit] == train[index]
    assert data.labels("test") == [[int(n in s) for n in data.label_names] for s in data.label_sets("test")]
    assert data.label_counts("train") == np.asarray(data.labels("train")).sum(0).tolist()


def test_empty_label_sets_are_kept_not_missing(formats):
    for name in ("jsonl", "pipe", "columns"):
        data = TextDataModule(batch_size=8, **formats[name])
        empties = sum(not labels for split in SPLITS for labels in data.label_sets(split))
        assert empties == 12, name


def test_a_list_column_switches_multi_label_on_and_says_so_once(formats, caplog):
    with caplog.at_level(logging.INFO, logger="textrnn.data"):
        data = TextDataModule(batch_size=8, cache_dir=None, **formats["jsonl"], seed=7)  # a fresh cache key
        assert data.multi_label
    said = [r.getMessage() for r in caplog.records if "multi-label" in r.getMessage()]
    assert said == ["multi-label classification: label column 'labels' holds lists"]
    assert data.hparams.multi_label is True  # the module records what it is (the model's link agrees)


def test_single_label_data_stays_single_label(tiny_datamodule):
    data = tiny_datamodule()
    assert not data.multi_label and "multi_label" not in data.state_dict()
    assert isinstance(data.labels("test")[0], int)


def test_state_dict_round_trip_keeps_label_sets(formats):
    data = TextDataModule(batch_size=8, **formats["jsonl"])
    state = data.state_dict()
    assert state["multi_label"] is True and state["label_names"] == sorted(LABELS)
    again = TextDataModule(batch_size=8, **formats["jsonl"])
    again.load_state_dict({**state, "label_names": ["tech", "food", "sports"]})  # a checkpoint's own order
    assert again.label_names == ["tech", "food", "sports"]
    assert again.label_sets("test") == [sorted(s, key=again.label_names.index) for s in data.label_sets("test")]
    single = TextDataModule(batch_size=8, **formats["jsonl"])
    single.load_state_dict({**state, "multi_label": False})
    with pytest.raises(ValueError, match="single-label but the data is multi-label"):
        single.setup()


def test_split_is_stratified_by_the_rarest_label(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(400):  # "rare" on 10% of rows, always beside a common label
        labels = ["common"] if rng.random() < 0.7 else ["other"]
        if i % 10 == 0:
            labels.append("rare")
        rows.append({"text": f"text number {i} " + " ".join(labels), "labels": sorted(labels)})
    data = TextDataModule(dataset="json", data_files=write_jsonl(tmp_path / "s.jsonl", rows), label_column="labels")
    rare = data.label_names.index("rare")
    for split in ("validation", "test"):
        count = np.asarray(data.labels(split))[:, rare].sum()
        assert abs(count - 40 * len(data.texts(split)) / 400) <= 1, split  # 10% of each split, +-1
    y = np.array([[1, 0], [1, 1], [0, 0], [1, 0], [1, 1], [1, 0], [0, 0], [0, 1]])
    # label 1 is rarer; the two empty rows are a stratum (2); the single [0, 1] row joins "other" (3), which,
    # alone there, joins the largest stratum
    assert rarest_label_strata(y).tolist() == [0, 1, 2, 0, 1, 0, 2, 1]
    assert rarest_label_strata(y[:6]).tolist() == [0, 1, 0, 0, 1, 0]


def write_lines(path, lines):
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return str(path)


BAD = [
    ({"labels": None}, "json", r"row 1 is null \(missing\); write an empty list \[\] for a text with no labels"),
    ({"labels": ["food", None]}, "json", r"row 1: a label in the list is null"),
    ({"labels": ["food", ""]}, "json", r"row 1: a label in the list is empty"),
]


@pytest.mark.parametrize(("bad", "builder", "message"), BAD, ids=["null-list", "null-item", "empty-item"])
def test_bad_list_values_are_named(tmp_path, bad, builder, message):
    lines = [{"text": f"good text {i}", "labels": ["food" if i % 2 else "tech"]} for i in range(20)]
    lines[1] = {"text": "the bad row", **bad}
    path = write_lines(tmp_path / "bad.jsonl", lines)
    with pytest.raises(ValueError, match=message):
        TextDataModule(dataset="json", data_files=path, label_column="labels").setup()


def test_bad_delimited_and_indicator_cells_are_named(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,tags\n" + "".join(f"text {i},{'food' if i % 2 else 'tech'}\n" for i in range(10))
                    + "broken,food||tech\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"split 'train', row 10: 'food\|\|tech' has an empty label between separators"):
        TextDataModule(dataset="csv", data_files=str(path), label_column="tags", label_separator="|").setup()
    path = tmp_path / "c.csv"
    path.write_text("text,food,tech\n" + "".join(f"text {i},{i % 2},{1 - i % 2}\n" for i in range(10))
                    + "broken,2,0\nmissing,,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"label column 'food' in split 'train', row 10 is '2'; a label column holds 0 or 1"):
        TextDataModule(dataset="csv", data_files=str(path), label_columns=["food", "tech"]).setup()
    with pytest.raises(ValueError, match=r"label column 'nope' not in split 'train'"):
        TextDataModule(dataset="csv", data_files=str(path), label_columns=["nope", "food"]).setup()


def test_a_label_seen_only_in_validation_or_test_is_named(tmp_path):
    train = [{"text": f"train text {i}", "labels": ["food" if i % 2 else "tech"]} for i in range(20)]
    test = [{"text": "test text", "labels": ["food", "opera"]}, {"text": "other", "labels": []}]
    files = {"train": write_lines(tmp_path / "train.jsonl", train), "test": write_lines(tmp_path / "test.jsonl", test)}
    with pytest.raises(ValueError, match=r"labels \['opera'\] in split 'test' never occur in the training labels"):
        TextDataModule(dataset="json", data_files=files, label_column="labels").setup()


def test_a_label_left_without_training_examples_is_named(tmp_path):
    lines = [{"text": f"text {i}", "labels": ["food" if i % 2 else "tech"]} for i in range(30)]
    lines[0]["labels"] = ["solo"]  # one example: stratification cannot keep it in train
    path = write_lines(tmp_path / "solo.jsonl", lines)
    data = TextDataModule(dataset="json", data_files=path, label_column="labels", seed=0)
    try:
        data.setup()
    except ValueError as error:
        assert "['solo'] have no training example left" in str(error)
    else:
        assert "solo" in data.label_names and data.label_counts("train")[data.label_names.index("solo")] == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"label_separator": " "}, "label_separator must be a non-blank string"),
    ({"label_columns": []}, "label_columns is an empty list"),
])
def test_bad_options_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TextDataModule(**kwargs)


def test_bbc_multilabel_construction_keeps_every_article_in_one_split():
    texts = [f"article {i}" for i in range(300)]
    classes = [["a", "b", "c", "d", "e"][i % 5] for i in range(300)]
    built = build_examples(texts, classes, seed=0)
    assert build_examples(texts, classes, seed=0) == built  # seeded: the same every time
    used = {split: [i for group in part["articles"] for i in group] for split, part in built.items()}
    for split, ids in used.items():
        assert len(ids) == len(set(ids)), split  # each article once within its split
    assert sorted(sum(used.values(), [])) == list(range(300))  # and in exactly one split
    for part in built.values():
        for group, labels, text in zip(part["articles"], part["label"], part["text"]):
            assert labels == sorted({classes[i] for i in group}) and len(labels) == len(group)  # pairs: 2 classes
            assert text == "\n\n".join(texts[i] for i in group)
    assert {len(group) for part in built.values() for group in part["articles"]} == {1, 2}
    assert [len(used[s]) for s in SPLITS] == [240, 30, 30]  # 80/10/10 of the articles, per class


def test_bbc_multilabel_builtin():
    data = TextDataModule(dataset="bbc_news_multilabel")
    assert data.multi_label and data.label_names == ["business", "entertainment", "politics", "sports", "tech"]
    sizes = [len(data.texts(s)) for s in SPLITS]
    assert sizes == [1126, 140, 146]
    sets = Counter(tuple(s) for split in SPLITS for s in data.label_sets(split))
    assert len(sets) == 15 and all(1 <= len(s) <= 2 for s in sets)
