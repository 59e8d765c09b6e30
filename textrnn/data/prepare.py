"""Raw data to prepared splits, end to end in Arrow, or straight from the cache when nothing changed.

load (`sources`, memory-mapped by `datasets`) -> labels as codes, empty texts dropped, duplicates
removed by hash, stratified split over row positions (`splits`) -> vocabulary trained from batches of
the training texts (`tokenizer`) -> each split written with its token ids by a batched `Dataset.map`
(`cache`). No step holds the texts of a split as Python objects, so memory stays flat as data grows.
"""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from textrnn.data.cache import (
    cache_key, cache_root, content_digest, encode_to_file, loaded_digest, reusable, write_folder,
)
from textrnn.data.multilabel import make_multilabel_splits, multilabel_options, wants_multilabel
from textrnn.data.progress import Progress, info
from textrnn.data.sources import load_raw
from textrnn.data.splits import SPLITS, column, make_splits, text_batches
from textrnn.data.tokenizer import build_tokenizer

# The options that change the prepared data; batch sizes, workers and bucketing do not.
KEYED = (
    "dataset", "config_name", "text_column", "label_column", "level", "lowercase", "max_vocab_size",
    "min_frequency", "max_length", "val_fraction", "test_fraction", "seed",
)


@dataclass
class Prepared:
    """A prepared data set: its cache folder (one Arrow file per split), label names and tokenizer (JSON)."""

    folder: Path
    label_names: list[str]
    tokenizer: str
    multi_label: bool = False  # labels are sets: the Arrow "label" column holds lists of label ids

    def path(self, split: str) -> Path:
        return self.folder / f"{split}.arrow"


def _load(hp: Any) -> Any:
    start = time.perf_counter()
    raw = load_raw(hp.dataset, hp.config_name, hp.data_files)
    rows = sum(len(split) for split in raw.values())
    seconds = time.perf_counter() - start
    info(f"loaded {hp.dataset}: {rows:,} rows in {seconds:.1f} s ({rows / max(seconds, 1e-9):,.0f} rows/s)")
    return raw


def prepare(
    hp: Any, label_names: Optional[list[str]] = None, cache_dir: Optional[str] = None, num_proc: int = 0
) -> Prepared:
    """Prepare the data set ``hp`` describes (a TextDataModule's hyper-parameters), or reuse its cache.

    Args:
        hp: the options (see `KEYED`, plus ``data_files``).
        label_names: fixed label names and order (from a checkpoint), or None to derive them.
        cache_dir: the cache folder; None for the default (`textrnn.data.cache.default_cache_dir`).
        num_proc: worker processes for tokenizing.
    """
    options = {name: getattr(hp, name) for name in KEYED} | {"label_names": label_names} | multilabel_options(hp)
    content = content_digest(hp.dataset, hp.data_files)
    root = cache_root(cache_dir)
    raw = None
    if content is None:  # a Hub data set: known by what `datasets` loaded
        raw = _load(hp)
        content = loaded_digest(raw)
    folder = root / cache_key(content, options)
    meta = reusable(folder)  # verified: a damaged folder is reported, removed and rebuilt below
    if meta is not None:
        info(f"using cached data {folder} (same data and options): loading and tokenizing skipped")
        return Prepared(folder, meta["label_names"], meta["tokenizer"], bool(meta.get("multi_label", False)))

    raw = raw if raw is not None else _load(hp)
    multi_label, why = wants_multilabel(raw, hp)
    if why:
        info(f"multi-label classification: {why}")
    if multi_label:
        splits = make_multilabel_splits(
            raw, hp.text_column, hp.label_column, hp.val_fraction, hp.test_fraction, hp.seed, label_names,
            getattr(hp, "label_separator", None), getattr(hp, "label_columns", None),
        )
    else:
        splits = make_splits(
            raw, hp.text_column, hp.label_column, hp.val_fraction, hp.test_fraction, hp.seed, label_names
        )
    train_texts = column(raw[splits.sources["train"]], hp.text_column, splits.sources["train"], "text")
    batches = Progress("vocabulary counted over", total=len(splits.rows["train"])).wrap(
        text_batches(train_texts, splits.rows["train"])
    )
    tokenizer = build_tokenizer(batches, hp.level, hp.lowercase, hp.max_vocab_size, hp.min_frequency, hp.max_length)

    def write(tmp: Path) -> dict[str, Any]:
        for split in SPLITS:
            source = raw[splits.sources[split]].select(splits.rows[split])
            encode_to_file(source, hp.text_column, splits.labels[split], tokenizer, tmp / f"{split}.arrow", split, num_proc)
        meta = {  # the manifest: write_folder adds every file's digest
            "label_names": splits.label_names,
            "tokenizer": tokenizer.to_str(),
            "sizes": {split: len(splits.rows[split]) for split in SPLITS},
            "options": options,
        }
        if multi_label:
            meta["multi_label"] = True
        return meta

    write_folder(folder, write)
    sizes = ", ".join(f"{split} {len(splits.rows[split]):,}" for split in SPLITS)
    info(f"prepared {sizes} texts, cached in {folder}")
    return Prepared(folder, splits.label_names, tokenizer.to_str(), multi_label)
