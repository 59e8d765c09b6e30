"""The Arrow pipeline: the cache (reused only for the same content and options), labels and texts that
look like missing values, memory-mapped splits, progress lines, and the one raw-text-to-batch path."""

import json
import logging
import pickle

import pytest
import torch

from textrnn.data import TextDataModule, encode_batch, make_batch, raw_batches
from textrnn.data.splits import dedupe
from data_helpers import write_csv

SPORTS = [f"the striker scored goal number {i} in the match" for i in range(12)]
FOOD = [f"the chef baked bread loaf number {i} for dinner" for i in range(12)]
NA_LIKE = ["NA", "None", "null", "N/A", "nan"]




def rows_two_classes():
    return [(text, "sports") for text in SPORTS] + [(text, "food") for text in FOOD]


def make(tmp_path, data_file, **kwargs):
    options = {"dataset": "csv", "data_files": data_file, "batch_size": 4, "cache_dir": str(tmp_path / "cache")}
    return TextDataModule(**(options | kwargs))


def prepared_folders(tmp_path):
    return sorted(p.name for p in (tmp_path / "cache").iterdir() if not p.name.startswith("."))


# ---- the cache -------------------------------------------------------------------------------------------


def test_second_run_uses_the_cache_and_says_so_in_one_line(tmp_path, caplog):
    data_file = write_csv(tmp_path / "data.csv", rows_two_classes())
    first = make(tmp_path, data_file)
    with caplog.at_level(logging.INFO, logger="textrnn.data"):
        first.setup("fit")
    assert not any("using cached data" in r.message for r in caplog.records)
    assert any(r.message.startswith("tokenized train: ") and "texts/s" in r.message for r in caplog.records)
    caplog.clear()
    second = make(tmp_path, data_file)
    with caplog.at_level(logging.INFO, logger="textrnn.data"):
        second.setup("fit")
    lines = [r.message for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("using cached data ") and "skipped" in lines[0], lines
    assert prepared_folders(tmp_path) == prepared_folders(tmp_path)[:1]  # one folder: the same key
    for split in ("train", "validation", "test"):
        assert second.texts(split) == first.texts(split) and second.labels(split) == first.labels(split)
        assert second.encoded(split).flat.tolist() == first.encoded(split).flat.tolist()
    assert second.tokenizer.to_str() == first.tokenizer.to_str()


CHANGES = {  # what changes between two runs: the second must prepare afresh, not reuse the first
    "file_content": ({}, True),
    "max_vocab_size": ({"max_vocab_size": 10}, False),
    "min_frequency": ({"min_frequency": 2}, False),
    "lowercase": ({"lowercase": False}, False),
    "level": ({"level": "char"}, False),
    "max_length": ({"max_length": 3}, False),
    "seed": ({"seed": 7}, False),
    "test_fraction": ({"test_fraction": 0.25}, False),
    "val_fraction": ({"val_fraction": 0.25}, False),
    "label_column": ({"label_column": "other", "text_column": "text"}, False),
}


@pytest.mark.parametrize("case", CHANGES)
def test_a_changed_file_or_option_never_reuses_the_cache(tmp_path, caplog, case):
    options, change_file = CHANGES[case]
    rows = [(text, label, label) for text, label in rows_two_classes()]
    data_file = write_csv(tmp_path / "data.csv", rows, header=("text", "label", "other"))
    first = make(tmp_path, data_file)
    first.setup("fit")
    if change_file:  # same size and name, one word different
        rows[0] = (rows[0][0].replace("striker", "keepers"), "sports", "sports")
        write_csv(tmp_path / "data.csv", rows, header=("text", "label", "other"))
    second = make(tmp_path, data_file, **options)
    with caplog.at_level(logging.INFO, logger="textrnn.data"):
        second.setup("fit")
    assert not any("using cached data" in r.message for r in caplog.records)
    assert len(prepared_folders(tmp_path)) == 2
    if change_file:
        every = second.texts("train") + second.texts("validation") + second.texts("test")
        assert any("keepers" in text for text in every) and not any("striker scored goal number 0 " in t for t in every)


def test_an_unusable_cache_dir_is_one_clear_error(tmp_path):
    data_file = write_csv(tmp_path / "data.csv", rows_two_classes())
    (tmp_path / "file").write_text("not a folder")
    dm = TextDataModule(dataset="csv", data_files=data_file, cache_dir=str(tmp_path / "file" / "cache"))
    with pytest.raises(ValueError, match=r"data cache folder .* is not usable .* --data.cache_dir"):
        dm.setup("fit")


def test_splits_are_memory_mapped_and_pickle_as_their_file(tmp_path):
    dm = make(tmp_path, write_csv(tmp_path / "data.csv", rows_two_classes()))
    train = dm.encoded("train")
    assert train.path and train.path.startswith(str(tmp_path / "cache"))
    state = pickle.dumps(train)
    assert len(state) < 2000  # the path and the labels, not the token ids
    again = pickle.loads(state)
    assert [again.ids(i) for i in range(len(again))] == [train.ids(i) for i in range(len(train))]
    assert again.labels.tolist() == train.labels.tolist() == dm.labels("train")
    assert [train.ids(i) for i in range(len(train))] == encode_batch(dm.tokenizer, dm.texts("train"))


def test_tokenize_workers_give_the_same_files(tmp_path):
    data_file = write_csv(tmp_path / "data.csv", rows_two_classes())
    one = make(tmp_path / "a", data_file)
    two = make(tmp_path / "b", data_file, tokenize_workers=2)
    for split in ("train", "validation", "test"):
        assert one.texts(split) == two.texts(split)
        assert one.encoded(split).flat.tolist() == two.encoded(split).flat.tolist()
    assert len(list((tmp_path / "b" / "cache").glob("*/*.arrow"))) == 3  # the workers' shards were joined


# ---- values that look missing are data -------------------------------------------------------------------


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows), encoding="utf-8")
    return str(path)


def write_parquet(path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [t for t, _ in rows], "label": [y for _, y in rows]}), path)
    return str(path)


@pytest.mark.parametrize("builder, write", [("csv", write_csv), ("json", write_jsonl), ("parquet", write_parquet)])
def test_na_like_classes_and_texts_are_data(tmp_path, builder, write):
    rows = [(f"{word} text about topic {cls} number {i}", cls) for cls in NA_LIKE for i, word in enumerate("abcd")]
    rows += [(word, "NA") for word in NA_LIKE]  # texts that are themselves NA-like words
    data_file = write(tmp_path / f"data.{builder}", rows)
    dm = make(tmp_path, data_file, dataset=builder, val_fraction=0.2, test_fraction=0.2)
    assert dm.label_names == sorted(NA_LIKE)
    texts = dm.texts("train") + dm.texts("validation") + dm.texts("test")
    labels = dm.labels("train") + dm.labels("validation") + dm.labels("test")
    assert sorted(texts) == sorted(text for text, _ in rows)  # nothing dropped as empty
    named = dict(zip(texts, (dm.label_names[i] for i in labels)))
    assert all(named[text] == label for text, label in rows)


def test_only_an_empty_label_cell_is_missing(tmp_path):
    rows = rows_two_classes()
    rows[3] = (rows[3][0], "")
    with pytest.raises(ValueError, match="label missing in split 'train', row 3"):
        make(tmp_path, write_csv(tmp_path / "data.csv", rows)).setup("fit")


def test_csv_number_labels_are_ordered_as_numbers(tmp_path):
    rows = [(text, 10) for text in SPORTS] + [(text, 9) for text in FOOD]
    dm = make(tmp_path, write_csv(tmp_path / "data.csv", rows))
    assert dm.label_names == ["9", "10"]


# ---- deduplication and raw text to batch ------------------------------------------------------------------


def test_dedupe_by_hash_keeps_first_occurrences():
    texts = ["A  b", "c", "a b", "C\n", "d", "a\tB"]
    assert dedupe(texts) == [0, 1, 4]
    assert dedupe([]) == []


def test_raw_batches_sort_longest_first_and_match_make_batch(tmp_path):
    dm = make(tmp_path, write_csv(tmp_path / "data.csv", rows_two_classes()))
    texts = ["goal", "", "the striker scored goal number 3 in the match", "the chef baked"]
    batches = raw_batches(dm.tokenizer, texts, batch_size=3)
    assert [rows for rows, _ in batches] == [[2, 3, 0], [1]]
    whole = make_batch(dm.tokenizer, texts)
    for rows, batch in batches:
        width = batch["ids"].shape[1]
        assert torch.equal(batch["ids"], whole["ids"][rows][:, :width])
        assert torch.equal(batch["lengths"], whole["lengths"][rows])
    assert torch.equal(dm.encode_texts(texts)["ids"], whole["ids"])
