"""Language-model data: the task's training texts (and any unlabelled files) as windows of token ids.

`LanguageModelDataModule` prepares the data exactly as `TextDataModule` does (same loading, duplicate
removal, seeded split and vocabulary, so a classifier fine-tuned on the same data and options gets the
same vocabulary and the same held-out texts), then serves *windows*: every text is cut into contiguous
windows of at most ``bptt`` tokens that overlap by one token, so each pair of neighbouring tokens falls
inside one window and every token but a text's first (forward) or last (backward) is predicted once an
epoch. That is truncated back-propagation through time: gradients never cross a window, memory depends on
``bptt`` and the batch size only, and the token ids stay in memory-mapped Arrow files, however large the
corpus.

The language model trains on the training split only, plus ``unlabelled_files``; the validation split
gives the validation perplexity and the test split the test perplexity. No validation or test text is
ever in a training window (tested), so a classifier tuned and tested on those splits is not flattered.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Optional

import numpy as np
from torch.utils.data import DataLoader, Dataset

from textrnn.data.batching import EncodedSplit, LengthSortedSampler
from textrnn.data.cache import _file_digest, cache_root, encode_to_file, reusable, write_folder
from textrnn.data.sources import DataFiles
from textrnn.data.text import TextDataModule

UNLABELLED_FORMATS = {".txt": "text", ".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


class TokenWindows(Dataset):
    """Windows of at most ``bptt`` tokens over the texts of one or more encoded splits.

    Items are ``(ids, 0, index)``, the shape `textrnn.data.batching.collate` takes. Windows start every
    ``bptt - 1`` tokens; a window of fewer than 2 tokens (nothing to predict) is left out.
    """

    def __init__(self, splits: list[EncodedSplit], bptt: int) -> None:
        if bptt < 2:
            raise ValueError(f"bptt must be >= 2 (a window needs a token to predict from and one to predict), got {bptt}")
        self.splits = splits
        stride = bptt - 1
        source, rows, starts = [], [], []
        for number, split in enumerate(splits):
            lengths = np.asarray(split.lengths, dtype=np.int64)  # (N,)
            counts = np.maximum(1, np.ceil((lengths - 1) / stride).astype(np.int64))  # windows per text
            text_rows = np.repeat(np.arange(len(lengths)), counts)
            first = np.cumsum(counts) - counts  # each text's first window
            starts.append((np.arange(len(text_rows)) - np.repeat(first, counts)) * stride)
            rows.append(text_rows)
            source.append(np.full(len(text_rows), number))
        self.source = np.concatenate(source) if source else np.zeros(0, np.int64)
        self.rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        self.starts = np.concatenate(starts) if starts else np.zeros(0, np.int64)
        text_lengths = np.concatenate([np.asarray(s.lengths, np.int64) for s in splits]) if splits else np.zeros(0)
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in splits])])[:-1].astype(np.int64)
        self.lengths = np.minimum(bptt, text_lengths[offsets[self.source] + self.rows] - self.starts)  # (W,)
        keep = self.lengths >= 2
        self.source, self.rows, self.starts, self.lengths = (a[keep] for a in (self.source, self.rows, self.starts, self.lengths))

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int, int]:
        ids = self.splits[self.source[index]][int(self.rows[index])][0]
        start = int(self.starts[index])
        return ids[start : start + int(self.lengths[index])], 0, int(index)

    @property
    def tokens(self) -> int:
        """Token positions served per epoch (the one-token overlaps counted twice)."""
        return int(self.lengths.sum())


def unlabelled_format(path: str) -> str:
    """The `datasets` builder for an unlabelled file, from its extension; one clear error otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in UNLABELLED_FORMATS:
        raise ValueError(f"unlabelled file {path!r}: unknown format {suffix or '(no extension)'!r}; valid: "
                         f"{', '.join(UNLABELLED_FORMATS)} (.txt holds one text a line)")
    return UNLABELLED_FORMATS[suffix]


class LanguageModelDataModule(TextDataModule):
    """Data for `textrnn.models.LanguageModel`: windows of the training texts and of unlabelled files.

    Every `TextDataModule` argument means the same here (they fix the split and the vocabulary that a
    classifier fine-tuned from this language model will share); the label column is read only to split
    the data as the classifier will. ``max_length`` defaults high: the language model reads whole texts,
    window by window.

    Args:
        dataset: as for TextDataModule: "bbc_news", "csv", "json", "parquet" or a Hub data set.
        config_name: the Hub configuration of `dataset`.
        data_files: your files for csv/json/parquet (see TextDataModule).
        text_column: the column holding the text.
        label_column: the column holding the class (used for the split only).
        level: "word" or "char".
        lowercase: lowercase text before tokenizing.
        max_vocab_size: the most vocabulary entries, [PAD] and [UNK] included.
        min_frequency: drop tokens seen fewer times than this in the training split.
        max_length: read at most this many tokens of each text.
        val_fraction: the validation share carved out when the data has no validation split.
        test_fraction: the test share carved out when the data has no test split.
        seed: seeds the splits and the window shuffling.
        batch_size: windows per training batch.
        eval_batch_size: windows per validation/test batch; None means 2 x batch_size.
        num_workers: dataloader worker processes.
        bucket: batch windows of similar length together.
        cache_dir: where prepared data is cached (see TextDataModule).
        tokenize_workers: processes that tokenize the splits when they are prepared.
        bptt: tokens per window (truncated back-propagation through time).
        unlabelled_files: more text to train on, beyond the training split: ``.txt`` files (one text a
            line), or CSV / JSON lines / Parquet files with a `unlabelled_column` (any labels ignored).
        unlabelled_column: the text column of the CSV/JSON/Parquet unlabelled files.
    """

    def __init__(
        self,
        dataset: str = "bbc_news",
        config_name: Optional[str] = None,
        data_files: Optional[DataFiles] = None,
        text_column: str = "text",
        label_column: str = "label",
        level: str = "word",
        lowercase: bool = True,
        max_vocab_size: int = 30000,
        min_frequency: int = 1,
        max_length: int = 100000,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 42,
        batch_size: int = 32,
        eval_batch_size: Optional[int] = None,
        num_workers: int = 0,
        bucket: bool = True,
        cache_dir: Optional[str] = None,
        tokenize_workers: int = 0,
        bptt: int = 128,
        unlabelled_files: Optional[list[str]] = None,
        unlabelled_column: str = "text",
    ) -> None:
        super().__init__(
            dataset=dataset, config_name=config_name, data_files=data_files, text_column=text_column,
            label_column=label_column, level=level, lowercase=lowercase, max_vocab_size=max_vocab_size,
            min_frequency=min_frequency, max_length=max_length, val_fraction=val_fraction,
            test_fraction=test_fraction, seed=seed, batch_size=batch_size, eval_batch_size=eval_batch_size,
            num_workers=num_workers, bucket=bucket, cache_dir=cache_dir, tokenize_workers=tokenize_workers,
        )
        if bptt < 2:
            raise ValueError(f"bptt must be >= 2, got {bptt}")
        for path in unlabelled_files or []:
            unlabelled_format(path)
            if not Path(path).is_file():
                raise FileNotFoundError(f"unlabelled file {path!r} not found")
        self._windows: dict[str, TokenWindows] = {}

    def windows(self, split: str) -> TokenWindows:
        """The windows of a split; the training windows include the unlabelled files'."""
        if split not in self._windows:
            parts = [self.encoded(split)]
            if split == "train":
                parts += [self._encode_unlabelled(path) for path in self.hparams.unlabelled_files or []]
            self._windows[split] = TokenWindows(parts, self.hparams.bptt)
        return self._windows[split]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._windows.clear()

    def _encode_unlabelled(self, path: str) -> EncodedSplit:
        """One unlabelled file tokenized into the cache (keyed by its bytes and the tokenizer), memory-mapped."""
        from datasets import load_dataset

        hp = self.hparams
        tokenizer = self.tokenizer.to_str()
        key = hashlib.sha256(json.dumps([_file_digest(Path(path)), tokenizer, hp.unlabelled_column]).encode())
        folder = cache_root(hp.cache_dir) / f"unlabelled-{key.hexdigest()[:32]}"
        target = folder / "unlabelled.arrow"
        if reusable(folder, ("unlabelled",)) is None:  # verified like every cache folder; rebuilt if damaged
            builder = unlabelled_format(path)
            source = load_dataset(builder, data_files=[str(path)], split="train")
            column = "text" if builder == "text" else hp.unlabelled_column
            if column not in source.column_names:
                raise ValueError(f"unlabelled file {path!r} has no column {column!r}; its columns: "
                                 f"{', '.join(source.column_names)} (set --data.init_args.unlabelled_column)")
            labels = np.zeros(len(source), dtype=np.int64)

            def write(tmp: Path) -> None:
                encode_to_file(source, column, labels, self.tokenizer, tmp / "unlabelled.arrow", Path(path).name)

            write_folder(folder, write, required=("unlabelled",))
        return EncodedSplit.from_file(str(target))

    def _train_data(self) -> TokenWindows:
        return self.windows("train")  # batched and resumed as TextDataModule's training texts are

    def _train_lengths(self) -> np.ndarray:
        return self.windows("train").lengths

    def _eval_loader(self, split: str) -> DataLoader:
        windows = self.windows(split)
        sampler = LengthSortedSampler(windows.lengths, *self._replicas())
        return self._loader(windows, sampler=sampler, batch_size=self._eval_batch_size())
