"""Label columns, read as Arrow arrays: each row's class as a code into a small table of class names.

A split's labels become ``(names, codes)``: the distinct class names found and, per row, the position
of its name among them (an int32 numpy array), computed by Arrow without one Python object per row.

- A ClassLabel keeps its names (a value outside them, such as the Hub's -1 for "unlabeled", is an error).
- Strings are names as they stand: ``"NA"``, ``"None"``, ``"null"``, ``"N/A"`` and ``"nan"`` are classes
  like any other. Only a truly empty cell (null, or the empty string a CSV gives for one) is missing.
- Integers, whole-number floats, and strings that all read as such numbers (CSV files are read as text)
  are named by their integer value (``"1.0"`` -> ``"1"``) and ordered by it; a fractional value is an
  error, as it looks like a regression target.
"""

import math
from typing import Any, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# A decimal number as a CSV cell holds one; "nan" and "inf" stay class names.
NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


def _first_row(mask: Any) -> int:
    """The first row where a boolean Arrow array is true."""
    return int(np.flatnonzero(np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool))[0])


def missing_rows(column: Any) -> Any:
    """A boolean Arrow mask of the missing cells: null, or an empty string."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return pc.fill_null(pc.equal(column, ""), True)
    if pa.types.is_floating(column.type):  # pandas reads an empty cell of a number column as NaN
        return pc.fill_null(pc.is_nan(column), True)
    return pc.is_null(column)


def _class_name(value: Any, split: str, row: int) -> str:
    if isinstance(value, float):
        if math.isnan(value) or not value.is_integer():
            raise ValueError(
                f"label {value!r} in split {split!r}, row {row} is not a class: labels must be strings "
                "or integers (this looks like a regression target)"
            )
        value = int(value)
    if isinstance(value, (bool, int)):
        return str(int(value))
    if isinstance(value, str):
        return value
    raise ValueError(f"label {value!r} in split {split!r}, row {row} is neither a string nor an integer")


def read_labels(column: Any, feature: Any, split: str) -> tuple[list[str], np.ndarray, Optional[list[str]], bool]:
    """One split's label column as class names and codes.

    Args:
        column: the label column, a pyarrow (Chunked)Array.
        feature: its `datasets` feature (a ClassLabel carries the names).
        split: the split's name, for errors.

    Returns:
        ``(names, codes, class_names, numeric)``: the distinct names found, each row's index into them
        (int32, (N,)), the ClassLabel's names if any, and whether the labels are numbers.
    """
    missing = missing_rows(column)
    class_names = getattr(feature, "names", None)
    if class_names is not None:  # ClassLabel: ids into its names
        bad = pc.or_(missing, pc.or_(pc.less(column, 0), pc.greater_equal(column, len(class_names))))
        if pc.any(bad).as_py():
            row = _first_row(bad)
            raise ValueError(
                f"label {column[row].as_py()!r} in split {split!r}, row {row} is missing or not one of {class_names}"
            )
        codes = np.asarray(column.to_numpy() if hasattr(column, "to_numpy") else column, dtype=np.int32)
        return list(class_names), codes, list(class_names), False
    if pc.any(missing).as_py():
        raise ValueError(f"label missing in split {split!r}, row {_first_row(missing)}")
    is_text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    uniques = pc.unique(column)
    codes = pc.index_in(column, value_set=uniques).to_numpy(zero_copy_only=False).astype(np.int32)  # (N,)
    values = uniques.to_pylist()
    numeric = not is_text or (len(values) > 0 and bool(pc.all(pc.match_substring_regex(uniques, NUMBER)).as_py()))
    if is_text and numeric:
        values = [float(value) for value in values]
    row_of = np.zeros(len(values), dtype=np.int64)  # a row holding each distinct value, for errors
    row_of[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    names = [_class_name(value, split, int(row_of[i])) for i, value in enumerate(values)]
    if len(set(names)) < len(names):  # "1" and "1.0" are one class: merge their codes
        first = {}
        merged = np.array([first.setdefault(name, i) for i, name in enumerate(names)], dtype=np.int32)
        keep = sorted(set(merged.tolist()))
        position = {old: new for new, old in enumerate(keep)}
        codes = np.array([position[int(m)] for m in merged], dtype=np.int32)[codes]
        names = [names[i] for i in keep]
    return names, codes, None, numeric
