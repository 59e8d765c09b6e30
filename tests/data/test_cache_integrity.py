"""The data cache is verified on every use: an edited manifest, a changed, truncated, missing or swapped
Arrow file is reported in one log line and rebuilt from the source data, never used; a run killed while
writing leaves nothing that looks complete; a full disk is one error naming the cache folder."""

import errno
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from textrnn.data import TextDataModule
from textrnn.data.cache import verify_folder, write_folder
from textrnn.files import WriteError
from data_helpers import write_csv

SPORTS = [f"the striker scored goal number {i} in the match" for i in range(12)]
FOOD = [f"the chef baked bread loaf number {i} for dinner" for i in range(12)]
TECH = [f"the new phone chip runs model number {i} fast" for i in range(12)]


def make(tmp_path, **kwargs):
    rows = [(t, "sports") for t in SPORTS] + [(t, "food") for t in FOOD] + [(t, "tech") for t in TECH]
    data_file = tmp_path / "data.csv"
    if not data_file.exists():
        write_csv(data_file, rows)
    options = {"dataset": "csv", "data_files": str(data_file), "batch_size": 4, "cache_dir": str(tmp_path / "cache")}
    return TextDataModule(**(options | kwargs))


def cache_folder(tmp_path) -> Path:
    (folder,) = [p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]
    return folder


def snapshot(data: TextDataModule) -> dict:
    return {split: (data.texts(split), data.labels(split), data.encoded(split).flat.tolist())
            for split in ("train", "validation", "test")} | {"labels": data.label_names}


def swap_label_names(folder):
    meta = json.loads((folder / "meta.json").read_text())
    meta["label_names"] = meta["label_names"][::-1]
    (folder / "meta.json").write_text(json.dumps(meta))


def flip_bytes(folder):
    path = folder / "train.arrow"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))


def copy_test_over_train(folder):
    (folder / "train.arrow").write_bytes((folder / "test.arrow").read_bytes())


def truncate(folder):
    path = folder / "train.arrow"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


DAMAGE = {  # what a careless or hostile user does to the cache -> the problem the log line names
    "meta_edited": (swap_label_names, "meta.json was changed after it was written"),
    "bytes_flipped": (flip_bytes, "train.arrow does not match its digest"),
    "test_copied_over_train": (copy_test_over_train, "train.arrow has "),
    "truncated": (truncate, "train.arrow has "),
    "file_missing": (lambda folder: (folder / "validation.arrow").unlink(), "validation.arrow is missing"),
    "meta_missing": (lambda folder: (folder / "meta.json").unlink(), "meta.json is missing"),
    "meta_not_json": (lambda folder: (folder / "meta.json").write_text("{not json"), "meta.json cannot be read"),
    "no_digests": (lambda folder: (folder / "meta.json").write_text('{"label_names": []}'), "records no file digests"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_cache_is_reported_in_one_line_and_rebuilt(tmp_path, caplog, case):
    damage, problem = DAMAGE[case]
    first = make(tmp_path)
    first.setup("fit")
    expected = snapshot(first)
    folder = cache_folder(tmp_path)
    damage(folder)
    assert verify_folder(folder)[1] is not None
    second = make(tmp_path)
    with caplog.at_level(logging.INFO, logger="textrnn.data"):
        second.setup("fit")
    lines = [r.message for r in caplog.records]
    damaged = [line for line in lines if "is damaged" in line]
    assert len(damaged) == 1 and problem in damaged[0] and "rebuilding it from the source data" in damaged[0], lines
    assert not any("using cached data" in line for line in lines), lines
    assert snapshot(second) == expected  # the source data's splits, not the altered ones
    meta, problem = verify_folder(cache_folder(tmp_path))
    assert problem is None and meta["label_names"] == expected["labels"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="textrnn.data"):  # the rebuilt cache is used again
        make(tmp_path).setup("fit")
    assert [r.message for r in caplog.records][0].startswith("using cached data ")


def test_the_folder_of_a_checkpoints_tokenizer_is_verified_too(tmp_path, caplog):
    other = make(tmp_path, max_vocab_size=12, cache_dir=str(tmp_path / "other"))  # another vocabulary, as a checkpoint of another run holds
    state = {"tokenizer": other.tokenizer.to_str(), "label_names": other.label_names}
    first = make(tmp_path)
    first.load_state_dict(state)
    expected = first.encoded("train").flat.tolist()
    (folder,) = [p for p in cache_folder(tmp_path).iterdir() if p.name.startswith("tokenizer-")]
    flip_bytes(folder)
    second = make(tmp_path)
    second.load_state_dict(state)
    with caplog.at_level(logging.INFO, logger="textrnn.data"):
        assert second.encoded("train").flat.tolist() == expected
    assert any("is damaged: train.arrow does not match its digest" in r.message for r in caplog.records)
    assert verify_folder(folder)[1] is None


def test_a_failed_write_leaves_no_folder_that_looks_complete(tmp_path):
    folder = tmp_path / "cache" / "abc"
    folder.parent.mkdir()

    def write(tmp):
        (tmp / "train.arrow").write_bytes(b"half")
        raise KeyboardInterrupt  # Ctrl+C in the middle of tokenizing

    with pytest.raises(KeyboardInterrupt):
        write_folder(folder, write)
    assert not folder.exists() and list(folder.parent.iterdir()) == []


@pytest.mark.slow
def test_a_run_killed_mid_write_leaves_nothing_that_is_used(tmp_path, caplog):
    """SIGKILL after every Arrow file is written but before the folder is complete: the next run prepares
    afresh (a left-over temporary folder is never taken for the cache)."""
    make(tmp_path)  # writes data.csv
    script = (
        "import os, signal, sys\n"
        "sys.path[:0] = [sys.argv[1]]\n"
        "import textrnn.data.cache as cache\n"
        "cache.write_manifest = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
        "from textrnn.data import TextDataModule\n"
        "TextDataModule(dataset='csv', data_files=sys.argv[2], cache_dir=sys.argv[3]).setup('fit')\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parents[2]), str(tmp_path / "data.csv"),
                           str(tmp_path / "cache")], env=env, capture_output=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    left = list((tmp_path / "cache").iterdir())
    assert left and all(p.name.startswith(".") and ".tmp-" in p.name for p in left), left
    with caplog.at_level(logging.INFO, logger="textrnn.data"):
        data = make(tmp_path)
        data.setup("fit")
    assert not any("using cached data" in r.message for r in caplog.records)
    assert verify_folder(cache_folder(tmp_path))[1] is None and data.num_classes == 3


def test_a_full_disk_while_caching_is_one_error_naming_the_folder(tmp_path, monkeypatch):
    import textrnn.data.prepare as prepare

    def no_space(source, text_column, labels, tokenizer, path, what, num_proc=0):
        path.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(prepare, "encode_to_file", no_space)
    with pytest.raises(WriteError) as error:
        make(tmp_path).setup("fit")
    message = str(error.value)
    assert message.startswith("cannot write the data cache ") and "No space left on device (ENOSPC)" in message
    assert str(tmp_path / "cache") in message
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-written, nothing that looks complete


def test_a_hub_data_set_is_keyed_by_what_it_loaded(tmp_path, monkeypatch, caplog):
    """A Hub data set (no local files to digest before loading) is keyed after loading, from public
    `datasets` properties: the same loaded data reuses the cache, other data gets a cache of its own."""
    import datasets

    import textrnn.data.prepare as prepare

    def hub(texts):
        rows = {"text": texts, "label": ["sports"] * 12 + ["food"] * 12 + ["tech"] * 12}
        return datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows)})

    loaded = {"now": hub(SPORTS + FOOD + TECH)}
    monkeypatch.setattr(prepare, "_load", lambda hp: loaded["now"])
    options = {"dataset": "someone/news", "batch_size": 4, "cache_dir": str(tmp_path / "cache")}
    def setup():
        data = TextDataModule(**options)
        data.setup("fit")
        return data

    first = snapshot(setup())
    with caplog.at_level(logging.INFO, logger="textrnn.data"):
        again = setup()
    assert "using cached data" in caplog.text and snapshot(again) == first

    loaded["now"] = hub(SPORTS + FOOD + TECH[:-1] + ["the new phone chip runs a different model"])
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="textrnn.data"):
        changed = setup()
    assert "using cached data" not in caplog.text
    assert "the new phone chip runs a different model" in sum((changed.texts(s) for s in ("train", "validation", "test")), [])
    assert len([p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]) == 2


def test_loaded_digest_reads_cached_files_and_in_memory_tables(tmp_path):
    import datasets

    from textrnn.data.cache import loaded_digest

    table = datasets.Dataset.from_dict({"text": [f"text {i}" for i in range(10)], "label": list(range(10))})
    # In memory: the rows' bytes decide, so two slices of one table differ and equal contents agree.
    assert loaded_digest({"train": table.select(range(5))}) != loaded_digest({"train": table.select(range(5, 10))})
    same = datasets.Dataset.from_dict({"text": [f"text {i}" for i in range(10)], "label": list(range(10))})
    assert loaded_digest({"train": table}) == loaded_digest({"train": same})
    # Loaded from files, as the Hub's are: keyed by the cached Arrow files; a new file is a new key.
    (tmp_path / "a.csv").write_text("text,label\nhello,1\nworld,2\n")
    from_files = datasets.load_dataset("csv", data_files=str(tmp_path / "a.csv"), cache_dir=str(tmp_path / "hf"))
    assert from_files["train"].cache_files
    digest = loaded_digest(from_files)
    assert str(from_files["train"].cache_files[0]["filename"]) in digest
    assert loaded_digest(from_files) == digest
