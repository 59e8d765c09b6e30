"""Train/validation/test splits and label ids, the same way for every data source, on Arrow columns.

- Split names: ``train``; ``validation`` also under ``valid``, ``val`` or ``dev``; ``test``. A data
  set with one split of another name is treated as ``train``.
- Missing splits are carved, stratified by label and seeded: from one ``train`` split, a test set of
  ``test_fraction`` and a validation set of ``val_fraction`` of the whole (test first, then validation
  from the rest, so BBC News with seed 42 gives 1,698 / 213 / 213); from ``train`` + ``test``, a
  validation set of ``val_fraction`` of train; from ``train`` + ``validation``, a test set likewise.
- Exact duplicates (same text after lowercasing and collapsing whitespace) are removed from whatever
  we split, before splitting, keeping the first: otherwise copies of a test text sit in train. Texts
  are compared by a 128-bit hash of that key, computed batch by batch, so no set of whole texts is held.
- Labels (`textrnn.data.labels`): a ClassLabel keeps its names; strings are named by the sorted strings
  of the training split; integers by their sorted values. Ids are 0..C-1 in name order.

The result is positions, not texts: for each split, which rows of which loaded split it takes, and
their label ids. `textrnn.data.cache` writes those rows, with their token ids, to Arrow files.
"""

import hashlib
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.model_selection import train_test_split

from textrnn.data.labels import read_labels
from textrnn.data.progress import Progress

SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {"train": ("train",), "validation": ("validation", "valid", "val", "dev"), "test": ("test",)}
BATCH = 10_000  # texts handled at once by the batched steps


@dataclass
class Splits:
    """For each split ("train", "validation", "test"): the loaded split it comes from and the row
    positions it takes there (int64, in order), its label ids (int64), and the label names."""

    sources: dict[str, str]
    rows: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    label_names: list[str]


def dedup_key(text: str) -> str:
    """The key under which two texts count as the same: lowercased, whitespace runs collapsed."""
    return " ".join(text.lower().split())


def text_hashes(batches: Iterable[Sequence[str]], progress: Optional[Progress] = None) -> np.ndarray:
    """A 128-bit hash of each text's `dedup_key`, as rows of a (N, 2) uint64 array."""
    digests = []
    for batch in batches:
        keys = (dedup_key(text).encode("utf-8", "surrogatepass") for text in batch)
        digests.append(b"".join(hashlib.blake2b(key, digest_size=16).digest() for key in keys))
        if progress is not None:
            progress.update(len(batch))
    if progress is not None:
        progress.done()
    return np.frombuffer(b"".join(digests), dtype=np.uint64).reshape(-1, 2)


def first_occurrences(hashes: np.ndarray) -> np.ndarray:
    """Positions of the first row of each distinct hash, in order."""
    if len(hashes) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first = np.unique(np.ascontiguousarray(hashes).view("V16").ravel(), return_index=True)
    return np.sort(first).astype(np.int64)


def dedupe(texts: Sequence[str]) -> list[int]:
    """Positions of the first occurrence of each distinct text, in order."""
    texts = list(texts)
    batches = (texts[i : i + BATCH] for i in range(0, len(texts), BATCH))
    return first_occurrences(text_hashes(batches)).tolist()


def column(dataset: Any, name: str, split: str, role: str) -> Any:
    """A column of a `datasets.Dataset` as a pyarrow ChunkedArray (memory-mapped, not copied)."""
    if name not in dataset.column_names:
        raise ValueError(
            f"{role} column {name!r} not in split {split!r}; columns found: {dataset.column_names}. "
            f"Set --data.{role}_column to one of them."
        )
    # The arrow format reads through any indices mapping (a `select` or `shuffle`), and without one it hands
    # back the table's own memory-mapped column: no copy either way.
    return dataset.with_format("arrow")[name]


def text_batches(texts: Any, rows: Optional[np.ndarray] = None, size: int = BATCH) -> Iterator[list[str]]:
    """The strings of an Arrow text column (nulls as ""), optionally only ``rows``, in batches of ``size``."""
    if rows is None:
        for start in range(0, len(texts), size):
            yield [text or "" for text in texts.slice(start, size).to_pylist()]
        return
    # ``rows`` ascend: read the column slice by slice and keep the rows that fall in each slice
    # (a `take` over a chunked column may first join all its chunks in memory).
    batch: list[str] = []
    for start in range(0, len(texts), size):
        lo, hi = np.searchsorted(rows, [start, start + size])
        if lo == hi:
            continue
        values = texts.slice(start, size).to_pylist()
        batch += [values[row - start] or "" for row in rows[lo:hi].tolist()]
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _check_texts(texts: Any, split: str) -> Any:
    """The rows whose text is empty or whitespace only (a boolean mask); refuses a non-string column."""
    if pa.types.is_null(texts.type):
        return pa.chunked_array([np.ones(len(texts), dtype=bool)])
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        valid = np.flatnonzero(pc.is_valid(texts).to_numpy(zero_copy_only=False))
        row = int(valid[0])
        value = texts[row].as_py()
        raise ValueError(f"text in split {split!r}, row {row} is {value!r} ({type(value).__name__}), not a string")
    # A cell of whitespace only ends in "" once trimmed (str.strip's whitespace, \x1c-\x1f included),
    # a slice at a time so no trimmed copy of the whole column is made.
    slices = range(0, len(texts), BATCH * 10)
    return pa.chunked_array([_blank(texts.slice(start, BATCH * 10)) for start in slices], pa.bool_())


def _blank(texts: Any) -> Any:
    trimmed = pc.utf8_trim(texts, characters=" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002"
                           "\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
    return pc.fill_null(pc.equal(trimmed, ""), True).combine_chunks()  # (n,) bool


def _keep_nonempty(empty: Any, name: str) -> np.ndarray:
    """Rows to keep: all but the empty or whitespace-only texts, which are dropped with a warning
    (each would be one [UNK] token). A split left with no text at all is an error."""
    empty = np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool)
    dropped = np.flatnonzero(empty)
    if len(dropped) == len(empty):
        raise ValueError(f"split {name!r} has no text: all its {len(dropped)} rows are empty or whitespace only")
    if len(dropped):
        rows = dropped[:10].tolist()
        warnings.warn(
            f"dropped {len(dropped)} empty or whitespace-only text(s) from split {name!r} (rows {rows}"
            f"{', ...' if len(dropped) > 10 else ''})",
            stacklevel=4,
        )
    return np.flatnonzero(~empty).astype(np.int64)


def _canonical(names: Sequence[str]) -> dict[str, str]:
    """Map "train"/"validation"/"test" to the data set's own split names."""
    found = {}
    for split, aliases in SPLIT_ALIASES.items():
        matches = [name for name in names if name.lower() in aliases]
        if len(matches) > 1:
            raise ValueError(f"splits {matches} all look like {split!r}; keep one of them")
        if matches:
            found[split] = matches[0]
    if "train" not in found:
        if len(names) != 1:
            raise ValueError(f"no 'train' split among the splits found: {list(names)}")
        found["train"] = names[0]  # a data set with a single split of another name
    return found


def check_known(used: dict[str, Sequence[str]], label_names: Sequence[str]) -> None:
    """Refuse labels that are not among ``label_names``, naming them and their split."""
    known = set(label_names)
    for split, names in used.items():
        unseen = sorted(set(names) - known)
        if unseen:
            raise ValueError(
                f"labels {unseen} in split {split!r} never occur in the training labels {list(label_names)}"
            )


def _stratified(
    indices: np.ndarray, labels: np.ndarray, size: int, seed: int, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``indices`` into (rest, ``size`` held out), stratified by label when the classes allow it."""
    strata = labels[indices]
    try:
        rest, held = train_test_split(indices, test_size=size, stratify=strata, random_state=seed)
    except ValueError as error:  # a class with one example, or fewer held-out rows than classes
        warnings.warn(f"{what} split is not stratified: {error}", stacklevel=3)
        rest, held = train_test_split(indices, test_size=size, random_state=seed)
    return np.sort(rest), np.sort(held)


def _count(fraction: float, n: int) -> int:
    """Rows for a fraction of n, rounded up like scikit-learn (less a hair of float error)."""
    return max(1, math.ceil(fraction * n - 1e-9))


def _label_order(found_names: list[str], class_names: Optional[list[str]], numeric: bool) -> list[str]:
    if class_names is not None:
        return class_names
    if numeric:
        return [str(v) for v in sorted({int(s) for s in found_names})]
    return sorted(set(found_names))


def make_splits(
    data: Any,
    text_column: str = "text",
    label_column: str = "label",
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 42,
    label_names: Optional[Sequence[str]] = None,
) -> Splits:
    """Turn a `datasets.DatasetDict` (or dict of split name -> Dataset) into train/validation/test.

    Args:
        data: the loaded splits.
        text_column: the column holding the text.
        label_column: the column holding the class.
        val_fraction: the validation share, when there is no validation split.
        test_fraction: the test share, when there is no test split.
        seed: seeds the stratified splitting.
        label_names: fix the label names and their order (from a checkpoint) instead of deriving them.
    """
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {fraction!r}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}")
    if not len(data):
        raise ValueError("the data set has no splits")
    found = _canonical(list(data.keys()))
    texts, empty, codes, names_of, class_names, numeric = {}, {}, {}, {}, None, False
    for split, name in found.items():
        dataset = data[name]
        if len(dataset) == 0:
            raise ValueError(f"split {name!r} is empty")
        texts[split] = column(dataset, text_column, name, "text")
        empty[split] = _check_texts(texts[split], name)
        labels = column(dataset, label_column, name, "label")
        names_of[split], codes[split], names, is_numeric = read_labels(
            labels, dataset.features.get(label_column), name
        )
        if split == "train":
            class_names, numeric = names, is_numeric

    rows = {split: _keep_nonempty(empty[split], name) for split, name in found.items()}
    used = {split: [names_of[split][c] for c in np.unique(codes[split][rows[split]])] for split in found}
    if label_names is None and len(used["train"]) < 2:
        raise ValueError(
            f"the training split has a single class, {used['train'][0]!r}, in label column {label_column!r}: "
            "a classifier needs at least 2 (is --data.init_args.label_column the right column?)"
        )
    names = list(label_names) if label_names is not None else _label_order(used["train"], class_names, numeric)
    check_known(used, names)
    position = {label: i for i, label in enumerate(names)}
    ids = {
        split: np.array([position.get(n, -1) for n in names_of[split]], dtype=np.int64)[codes[split]]
        for split in found
    }  # (N,) per loaded split

    if "validation" not in found or "test" not in found:
        train = rows["train"]
        progress = Progress("deduplicated", total=len(train))
        rows["train"] = train[first_occurrences(text_hashes(text_batches(texts["train"], train), progress))]
        if len(rows["train"]) < 3:
            raise ValueError(f"only {len(rows['train'])} distinct training texts: too few to split")
    sources = dict(found)
    y, train = ids["train"], rows["train"]
    if "validation" not in found and "test" not in found:
        n = len(train)
        train, rows["test"] = _stratified(train, y, _count(test_fraction, n), seed, "test")
        train, rows["validation"] = _stratified(train, y, _count(val_fraction, n), seed, "validation")
    elif "validation" not in found:
        train, rows["validation"] = _stratified(train, y, _count(val_fraction, len(train)), seed, "validation")
    elif "test" not in found:
        train, rows["test"] = _stratified(train, y, _count(test_fraction, len(train)), seed, "test")
    rows["train"] = train
    for split in SPLITS:
        sources.setdefault(split, found["train"])
    labels = {split: ids[split if split in found else "train"][rows[split]] for split in SPLITS}
    return Splits(sources, {s: rows[s] for s in SPLITS}, labels, names)
