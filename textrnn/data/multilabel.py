"""Multi-label data: texts with a set of labels each, read from the forms users have, split and seeded.

A label set comes from one of three forms:

- a **list column** (JSON lines, Parquet): ``{"text": "...", "labels": ["sport", "politics"]}``; an empty
  list ``[]`` is the empty set. Such a column switches multi-label on by itself (said once in the log).
- a **delimited string** (CSV, or any string column): ``"sport|politics"``, split on ``label_separator``
  (``"|"`` when multi-label is asked for without one), each label stripped of surrounding spaces. An
  empty cell is the empty set: a CSV file has no other way to write it.
- several **0/1 columns** (``label_columns: [sport, politics, tech]``): each column is one label, named by
  the column; a cell is 0 or 1 (integers, booleans, or the strings "0"/"1"/"true"/"false").

Labels are strings (an integer in a list is named by its value). **Empty and missing are different**: an
empty set (``[]``, an empty delimited cell, a row of zeros) is a valid example with no labels; a missing
value (a JSON ``null`` where a list or string belongs, a null or empty 0/1 cell, a null or empty label
inside a list, an empty piece between separators such as ``"a||b"``) is an error naming the split, row
and column. Label names are the sorted labels of the training split; a label seen only in validation or
test is an error naming it (a model cannot learn a label it never saw).

**Splits.** As for single-label data (`textrnn.data.splits`): exact duplicates are removed before
splitting, then missing splits are carved, seeded, stratified **by each example's rarest label** (its label
with the fewest training examples; the empty set is a stratum of its own). That keeps every label,
rare ones above all, at about its share in every split, which is what stratification must achieve for
multi-label data; iterative stratification (Sechidis et al. 2011) balances all labels at once at a higher
cost. A stratum with a single example joins a stratum "other" (a lone example there joins the largest
stratum) so sklearn can split it; if the data is too small even for that, the split is plain seeded
random, with a warning.

Labels per split are multi-hot ``uint8`` arrays ``(N, L)`` in the order of the label names.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.model_selection import train_test_split

from textrnn.data.splits import (
    SPLITS,
    Splits,
    _canonical,
    _check_texts,
    _count,
    _keep_nonempty,
    check_known,
    column,
    first_occurrences,
    text_batches,
    text_hashes,
)
from textrnn.data.progress import Progress

DEFAULT_SEPARATOR = "|"
TRUE_CELLS = {"1", "true", "True", "TRUE", "1.0"}
FALSE_CELLS = {"0", "false", "False", "FALSE", "0.0"}


def is_list_type(arrow_type: Any) -> bool:
    """Whether an Arrow type is a list (a list column of labels)."""
    return pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type)


def _name(value: Any, split: str, row: int, column_name: str) -> str:
    """One label of a list as its name."""
    if value is None or value == "":
        raise ValueError(f"label column {column_name!r} in split {split!r}, row {row}: a label in the list is "
                         f"{'null' if value is None else 'empty'}; write an empty list [] for no labels")
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise ValueError(f"label {value!r} in column {column_name!r}, split {split!r}, row {row} is not a "
                             "label: labels must be strings or integers")
        return str(int(value))
    if isinstance(value, (int, str)):
        return str(value)
    raise ValueError(f"label {value!r} in column {column_name!r}, split {split!r}, row {row} is neither a "
                     "string nor an integer")


def read_label_sets(
    dataset: Any, split: str, label_column: str, label_separator: Optional[str], label_columns: Optional[Sequence[str]]
) -> list[frozenset[str]]:
    """One split's label sets, one per row, from whichever form the options name (module docstring)."""
    if label_columns:
        return _indicator_sets(dataset, split, list(label_columns))
    labels = column(dataset, label_column, split, "label")
    if is_list_type(labels.type):
        sets = []
        for row, value in enumerate(labels.to_pylist()):
            if value is None:
                raise ValueError(f"label column {label_column!r} in split {split!r}, row {row} is null (missing); "
                                 "write an empty list [] for a text with no labels")
            sets.append(frozenset(_name(v, split, row, label_column) for v in value))
        return sets
    if pa.types.is_string(labels.type) or pa.types.is_large_string(labels.type):
        separator = label_separator or DEFAULT_SEPARATOR
        nulls = pc.is_null(labels)
        if pc.any(nulls).as_py():
            row = int(np.flatnonzero(nulls.to_numpy(zero_copy_only=False))[0])
            raise ValueError(f"label column {label_column!r} in split {split!r}, row {row} is null (missing); an "
                             "empty string is the empty label set")
        sets = []
        for row, cell in enumerate(labels.to_pylist()):
            if not cell.strip():
                sets.append(frozenset())
                continue
            pieces = [piece.strip() for piece in cell.split(separator)]
            if "" in pieces:
                raise ValueError(f"label column {label_column!r} in split {split!r}, row {row}: {cell!r} has an "
                                 f"empty label between separators {separator!r}")
            sets.append(frozenset(pieces))
        return sets
    if pa.types.is_integer(labels.type) or pa.types.is_boolean(labels.type):
        values = labels.to_pylist()
        for row, value in enumerate(values):
            if value is None:
                raise ValueError(f"label column {label_column!r} in split {split!r}, row {row} is missing")
        return [frozenset([str(int(v))]) for v in values]
    raise ValueError(f"label column {label_column!r} in split {split!r} holds {labels.type}; multi-label data "
                     "needs a list column, a delimited string (label_separator) or 0/1 columns (label_columns)")


def _indicator_sets(dataset: Any, split: str, names: list[str]) -> list[frozenset[str]]:
    """Label sets from 0/1 columns, one label per column."""
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"label_columns {names} repeat {duplicates}; name each label column once")
    member = []
    for name in names:
        values = column(dataset, name, split, "label").to_pylist()
        flags = np.zeros(len(values), dtype=bool)
        for row, value in enumerate(values):
            if isinstance(value, bool):
                flags[row] = value
            elif isinstance(value, (int, float)) and value in (0, 1):
                flags[row] = bool(value)
            elif isinstance(value, str) and value.strip() in TRUE_CELLS | FALSE_CELLS:
                flags[row] = value.strip() in TRUE_CELLS
            else:
                shown = "missing" if value is None or value == "" else f"{value!r}"
                raise ValueError(f"label column {name!r} in split {split!r}, row {row} is {shown}; a label column "
                                 "holds 0 or 1 (or true/false) in every row")
        member.append(flags)
    matrix = np.stack(member, axis=1) if member else np.zeros((len(dataset), 0), dtype=bool)  # (N, L)
    return [frozenset(names[j] for j in np.flatnonzero(row)) for row in matrix]


def multi_hot(sets: Sequence[frozenset[str]], names: Sequence[str]) -> np.ndarray:
    """Label sets as a multi-hot (N, L) uint8 array in the order of ``names`` (every label must be there)."""
    position = {name: j for j, name in enumerate(names)}
    out = np.zeros((len(sets), len(names)), dtype=np.uint8)
    for i, labels in enumerate(sets):
        out[i, [position[label] for label in labels]] = 1
    return out


def label_ids_to_multi_hot(ids: Sequence[Sequence[int]], num_labels: int) -> np.ndarray:
    """Lists of label ids (as the prepared Arrow files store them) as a multi-hot (N, L) uint8 array."""
    out = np.zeros((len(ids), num_labels), dtype=np.uint8)
    for i, row in enumerate(ids):
        out[i, list(row)] = 1
    return out


def rarest_label_strata(y: np.ndarray) -> np.ndarray:
    """Each row's stratum: the index of its rarest label (by counts over ``y``), or L for the empty set;
    strata with a single row are merged into one stratum L + 1 (a single row there joins the largest)."""
    counts = y.sum(axis=0).astype(np.float64)  # (L,)
    cost = np.where(y.astype(bool), counts[None, :], np.inf)  # (N, L)
    strata = np.where(y.any(axis=1), cost.argmin(axis=1), y.shape[1]).astype(np.int64)
    sizes = Counter(strata.tolist())
    strata = np.array([s if sizes[s] > 1 else y.shape[1] + 1 for s in strata.tolist()], dtype=np.int64)
    other = strata == y.shape[1] + 1
    if other.sum() == 1:  # a lone row in "other" too: it joins the largest stratum
        strata[other] = Counter(strata[~other].tolist()).most_common(1)[0][0] if (~other).any() else 0
    return strata


def stratified_multilabel(
    indices: np.ndarray, y: np.ndarray, size: int, seed: int, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``indices`` (rows of ``y``) into (rest, ``size`` held out), stratified by each row's rarest label."""
    strata = rarest_label_strata(y[indices])
    try:
        rest, held = train_test_split(indices, test_size=size, stratify=strata, random_state=seed)
    except ValueError as error:  # a stratum left with one row, or fewer held-out rows than strata
        warnings.warn(f"{what} split is not stratified: {error}", stacklevel=3)
        rest, held = train_test_split(indices, test_size=size, random_state=seed)
    return np.sort(rest), np.sort(held)


def make_multilabel_splits(
    data: Any,
    text_column: str = "text",
    label_column: str = "label",
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 42,
    label_names: Optional[Sequence[str]] = None,
    label_separator: Optional[str] = None,
    label_columns: Optional[Sequence[str]] = None,
) -> Splits:
    """`textrnn.data.splits.make_splits` for multi-label data: ``Splits.labels`` are multi-hot (N, L)."""
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {fraction!r}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}")
    if not len(data):
        raise ValueError("the data set has no splits")
    found = _canonical(list(data.keys()))
    texts, empty, sets = {}, {}, {}
    for split, name in found.items():
        dataset = data[name]
        if len(dataset) == 0:
            raise ValueError(f"split {name!r} is empty")
        texts[split] = column(dataset, text_column, name, "text")
        empty[split] = _check_texts(texts[split], name)
        sets[split] = read_label_sets(dataset, name, label_column, label_separator, label_columns)

    rows = {split: _keep_nonempty(empty[split], name) for split, name in found.items()}
    used = {split: sorted(set().union(*(sets[split][i] for i in rows[split].tolist()))) for split in found}
    if label_names is None:
        names = sorted(label_columns) if label_columns else used["train"]
        if len(names) < 2:
            raise ValueError(f"the training split has {len(names)} label(s) {names} in "
                             f"{'label_columns' if label_columns else 'label column ' + repr(label_column)}: "
                             "a multi-label classifier needs at least 2")
    else:
        names = list(label_names)
    check_known(used, names)
    y = {split: multi_hot(sets[split], names) for split in found}  # (N, L) per loaded split

    if "validation" not in found or "test" not in found:
        train = rows["train"]
        progress = Progress("deduplicated", total=len(train))
        rows["train"] = train[first_occurrences(text_hashes(text_batches(texts["train"], train), progress))]
        if len(rows["train"]) < 3:
            raise ValueError(f"only {len(rows['train'])} distinct training texts: too few to split")
    sources = dict(found)
    # Stratify on the labels in name order, so that a checkpoint's own label order splits the same way.
    labels, train = y["train"][:, np.argsort(np.array(names, dtype=object), kind="stable")], rows["train"]
    if "validation" not in found and "test" not in found:
        n = len(train)
        train, rows["test"] = stratified_multilabel(train, labels, _count(test_fraction, n), seed, "test")
        train, rows["validation"] = stratified_multilabel(train, labels, _count(val_fraction, n), seed, "validation")
    elif "validation" not in found:
        train, rows["validation"] = stratified_multilabel(train, labels, _count(val_fraction, len(train)), seed,
                                                          "validation")
    elif "test" not in found:
        train, rows["test"] = stratified_multilabel(train, labels, _count(test_fraction, len(train)), seed, "test")
    rows["train"] = train
    for split in SPLITS:
        sources.setdefault(split, found["train"])
    # A label carved away from train entirely would be one only validation/test know: refuse it by name.
    carved = {split: [names[j] for j in np.flatnonzero(y[split if split in found else "train"][rows[split]].any(0))]
              for split in SPLITS}
    missing = [name for name in names if name not in carved["train"] and label_names is None]
    if missing:
        raise ValueError(f"labels {missing} have no training example left after splitting off validation/test "
                         "(too few examples): give them more examples, or your own train/validation/test files")
    out = {split: y[split if split in found else "train"][rows[split]] for split in SPLITS}
    return Splits(sources, {s: rows[s] for s in SPLITS}, out, list(names))


def wants_multilabel(raw: Any, hp: Any) -> tuple[bool, Optional[str]]:
    """(multi-label?, why, for one log line when it was not asked for): asked for (multi_label true), implied
    by label_separator or label_columns, or detected from a list label column."""
    if getattr(hp, "multi_label", False):
        return True, None
    if getattr(hp, "label_columns", None):
        return True, f"label_columns {list(hp.label_columns)} given"
    if getattr(hp, "label_separator", None):
        return True, f"label_separator {hp.label_separator!r} given"
    found = _canonical(list(raw.keys()))
    dataset = raw[found["train"]]
    label_column = getattr(hp, "label_column", "label")
    if label_column in dataset.column_names:
        labels = column(dataset, label_column, found["train"], "label")
        if is_list_type(labels.type):
            return True, f"label column {label_column!r} holds lists"
    return False, None


def multilabel_options(hp: Any) -> dict[str, Any]:
    """The multi-label options that change the prepared data, for the cache key: none unless one is set, so
    the keys of single-label data stay what they were."""
    options = {name: getattr(hp, name, None) for name in ("multi_label", "label_separator", "label_columns")}
    if not any(options.values()):
        return {}
    options["label_columns"] = list(options["label_columns"]) if options["label_columns"] else None
    return options


def label_counts(y: np.ndarray) -> list[int]:
    """Positive examples per label of a multi-hot (N, L) array."""
    return [int(c) for c in np.asarray(y).sum(axis=0).tolist()]
