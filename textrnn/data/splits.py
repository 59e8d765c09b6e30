"""Train/validation/test splits and label ids, the same way for every data source.

- Split names: ``train``; ``validation`` also under ``valid``, ``val`` or ``dev``; ``test``. A data
  set with one split of another name is treated as ``train``.
- Missing splits are carved, stratified by label and seeded: from one ``train`` split, a test set of
  ``test_fraction`` and a validation set of ``val_fraction`` of the whole (test first, then validation
  from the rest, so BBC News with seed 42 gives 1,698 / 213 / 213); from ``train`` + ``test``, a
  validation set of ``val_fraction`` of train; from ``train`` + ``validation``, a test set likewise.
- Exact duplicates (same text after lowercasing and collapsing whitespace) are removed from whatever
  we split, before splitting, keeping the first: otherwise copies of a test text sit in train.
- Labels: a ClassLabel keeps its names; strings are named by the sorted strings of the training split;
  integers without names by their sorted values. Ids are 0..C-1 in name order.
"""

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from sklearn.model_selection import train_test_split

SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {"train": ("train",), "validation": ("validation", "valid", "val", "dev"), "test": ("test",)}


@dataclass
class Splits:
    """Raw texts and label ids per split (keys "train", "validation", "test"), and the label names."""

    texts: dict[str, list[str]]
    labels: dict[str, list[int]]
    label_names: list[str]

    def relabel(self, label_names: Sequence[str]) -> "Splits":
        """The same splits with ids renumbered to ``label_names`` (e.g. the names in a checkpoint)."""
        label_names = list(label_names)
        if label_names == self.label_names:
            return self
        _check_known({s: [self.label_names[i] for i in ids] for s, ids in self.labels.items()}, label_names)
        new_id = {name: i for i, name in enumerate(label_names)}
        labels = {s: [new_id[self.label_names[i]] for i in ids] for s, ids in self.labels.items()}
        return Splits(self.texts, labels, label_names)


def dedup_key(text: str) -> str:
    """The key under which two texts count as the same: lowercased, whitespace runs collapsed."""
    return " ".join(text.lower().split())


def dedupe(texts: Sequence[str]) -> list[int]:
    """Positions of the first occurrence of each distinct text, in order."""
    seen: set[str] = set()
    keep = []
    for i, text in enumerate(texts):
        key = dedup_key(text)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return keep


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


def _column(dataset: Any, column: str, split: str, role: str) -> list:
    if column not in dataset.column_names:
        raise ValueError(
            f"{role} column {column!r} not in split {split!r}; columns found: {dataset.column_names}. "
            f"Set --data.{role}_column to one of them."
        )
    return dataset[column]


def _texts(values: list, split: str) -> list[str]:
    texts = []
    for i, value in enumerate(values):
        if value is None:
            value = ""  # an empty CSV cell; it encodes to [UNK]
        if not isinstance(value, str):
            raise ValueError(f"text in split {split!r}, row {i} is {value!r} ({type(value).__name__}), not a string")
        texts.append(value)
    return texts


def _drop_empty(texts: dict[str, list[str]], labels: dict[str, list[str]], split: str, name: str) -> None:
    """Drop the texts that are empty or whitespace only, with a warning: they hold nothing to learn or
    test (each would be one [UNK] token). A split left with no text at all is an error."""
    keep = [i for i, text in enumerate(texts[split]) if text.strip()]
    dropped = len(texts[split]) - len(keep)
    if not dropped:
        return
    if not keep:
        raise ValueError(f"split {name!r} has no text: all its {dropped} rows are empty or whitespace only")
    rows = [i for i, text in enumerate(texts[split]) if not text.strip()]
    warnings.warn(
        f"dropped {dropped} empty or whitespace-only text(s) from split {name!r} (rows {rows[:10]}"
        f"{', ...' if dropped > 10 else ''})",
        stacklevel=3,
    )
    texts[split] = [texts[split][i] for i in keep]
    labels[split] = [labels[split][i] for i in keep]


def _label_strings(values: list, feature: Any, split: str) -> tuple[list[str], Optional[list[str]], bool]:
    """Each label as its name, the ClassLabel names if any, and whether the labels are integers."""
    names = getattr(feature, "names", None)
    if names is not None:  # ClassLabel
        for i, value in enumerate(values):
            if value is None or not 0 <= value < len(names):  # -1 marks an unlabeled row on the Hub
                raise ValueError(f"label {value!r} in split {split!r}, row {i} is missing or not one of {names}")
        return [names[v] for v in values], list(names), False
    out, numeric = [], False
    for i, value in enumerate(values):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise ValueError(f"label missing in split {split!r}, row {i}")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(
                    f"label {value!r} in split {split!r}, row {i} is not a class: labels must be strings "
                    "or integers (this looks like a regression target)"
                )
            value = int(value)
        if isinstance(value, (bool, int)):
            numeric = True
            value = int(value)
        elif not isinstance(value, str):
            raise ValueError(f"label {value!r} in split {split!r}, row {i} is neither a string nor an integer")
        out.append(str(value))
    return out, None, numeric


def _check_known(labels: dict[str, list[str]], label_names: Sequence[str]) -> None:
    known = set(label_names)
    for split, names in labels.items():
        unseen = sorted(set(names) - known)
        if unseen:
            raise ValueError(
                f"labels {unseen} in split {split!r} never occur in the training labels {list(label_names)}"
            )


def _stratified(
    indices: list[int], labels: list[int], size: int, seed: int, what: str
) -> tuple[list[int], list[int]]:
    """Split ``indices`` into (rest, ``size`` held out), stratified by label when the classes allow it."""
    strata = [labels[i] for i in indices]
    try:
        rest, held = train_test_split(indices, test_size=size, stratify=strata, random_state=seed)
    except ValueError as error:  # a class with one example, or fewer held-out rows than classes
        warnings.warn(f"{what} split is not stratified: {error}", stacklevel=3)
        rest, held = train_test_split(indices, test_size=size, random_state=seed)
    return sorted(rest), sorted(held)


def _count(fraction: float, n: int) -> int:
    """Rows for a fraction of n, rounded up like scikit-learn (less a hair of float error)."""
    return max(1, math.ceil(fraction * n - 1e-9))


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
    texts, strings, class_names, numeric = {}, {}, None, False
    for split, name in found.items():
        dataset = data[name]
        if len(dataset) == 0:
            raise ValueError(f"split {name!r} is empty")
        texts[split] = _texts(_column(dataset, text_column, name, "text"), name)
        values = _column(dataset, label_column, name, "label")
        strings[split], names, is_int = _label_strings(values, dataset.features.get(label_column), name)
        if split == "train":
            class_names, numeric = names, is_int

    for split, name in found.items():
        _drop_empty(texts, strings, split, name)
    if label_names is None and len(set(strings["train"])) < 2:
        raise ValueError(
            f"the training split has a single class, {strings['train'][0]!r}, in label column {label_column!r}: "
            "a classifier needs at least 2 (is --data.init_args.label_column the right column?)"
        )

    if label_names is not None:
        names = list(label_names)
    elif class_names is not None:
        names = class_names
    elif numeric:
        names = [str(v) for v in sorted({int(s) for s in strings["train"]})]
    else:
        names = sorted(set(strings["train"]))
    _check_known(strings, names)
    ids = {name: i for i, name in enumerate(names)}
    labels = {split: [ids[s] for s in values] for split, values in strings.items()}

    train = list(range(len(texts["train"])))
    if "validation" not in found or "test" not in found:
        train = dedupe(texts["train"])
        if len(train) < 3:
            raise ValueError(f"only {len(train)} distinct training texts: too few to split")
    held: dict[str, list[int]] = {}
    y = labels["train"]
    if "validation" not in found and "test" not in found:
        n = len(train)
        train, held["test"] = _stratified(train, y, _count(test_fraction, n), seed, "test")
        train, held["validation"] = _stratified(train, y, _count(val_fraction, n), seed, "validation")
    elif "validation" not in found:
        train, held["validation"] = _stratified(train, y, _count(val_fraction, len(train)), seed, "validation")
    elif "test" not in found:
        train, held["test"] = _stratified(train, y, _count(test_fraction, len(train)), seed, "test")
    for split, rows in held.items():
        texts[split] = [texts["train"][i] for i in rows]
        labels[split] = [y[i] for i in rows]
    texts["train"] = [texts["train"][i] for i in train]
    labels["train"] = [y[i] for i in train]
    return Splits({s: texts[s] for s in SPLITS}, {s: labels[s] for s in SPLITS}, names)
