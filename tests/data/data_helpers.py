"""Small data files the data tests write for themselves."""

import csv


def write_csv(path, rows, header=("text", "label")):
    """Write ``rows`` (tuples) under ``header`` as a UTF-8 CSV file; returns the path as a string."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)
