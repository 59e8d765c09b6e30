"""Tiny multi-label data the multi-label tests write for themselves, in every label format.

Made from data/tiny_en.jsonl the way bbc_news_multilabel is made from BBC News: each example is one
sentence (its class) or two sentences of different classes joined (both classes), plus a few neutral
sentences with the empty label set.
"""

import csv
import json
import random
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data"
LABELS = ["food", "sports", "tech"]
NEUTRAL = ["Nothing much happened on a quiet afternoon number {}.", "The weather was mild again on day {}.",
           "People walked slowly along the river on evening {}."]


def multilabel_rows(seed: int = 0) -> list[dict]:
    """[{"text": ..., "labels": [...]}, ...]: ~110 rows, label sets of size 0, 1 and 2."""
    rng = random.Random(seed)
    seen, items = set(), []
    for line in (DATA / "tiny_en.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        key = " ".join(row["text"].lower().split())
        if key not in seen:
            seen.add(key)
            items.append((row["text"], row["label"]))
    rng.shuffle(items)
    rows, used = [], set()
    for i, (text, label) in enumerate(items):
        if i in used:
            continue
        used.add(i)
        partner = next((j for j in range(i + 1, len(items)) if j not in used and items[j][1] != label), None)
        if partner is not None and rng.random() < 0.5:
            used.add(partner)
            rows.append({"text": f"{text} {items[partner][0]}", "labels": sorted({label, items[partner][1]})})
        else:
            rows.append({"text": text, "labels": [label]})
    for i in range(12):
        rows.append({"text": NEUTRAL[i % 3].format(i), "labels": []})
    rng.shuffle(rows)
    return rows


def write_jsonl(path: Path, rows: list[dict], column: str = "labels") -> str:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({"text": row["text"], column: row["labels"]}) + "\n")
    return str(path)


def write_delimited_csv(path: Path, rows: list[dict], separator: str = "|", column: str = "tags") -> str:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", column])
        for row in rows:
            writer.writerow([row["text"], separator.join(row["labels"])])
    return str(path)


def write_indicator_csv(path: Path, rows: list[dict], labels: list[str] = LABELS) -> str:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", *labels])
        for row in rows:
            writer.writerow([row["text"], *(int(label in row["labels"]) for label in labels)])
    return str(path)


def write_parquet(path: Path, rows: list[dict]) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"text": [r["text"] for r in rows], "labels": [r["labels"] for r in rows]})
    pq.write_table(table, path)
    return str(path)
