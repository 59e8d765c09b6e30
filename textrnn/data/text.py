"""TextDataModule: text classification data, from raw text to padded, length-bucketed batches.

Raw text -> load (`sources`) -> dedupe and split (`splits`) -> vocabulary trained on train only
(`tokenizer`) -> each split tokenized once into a memory-mapped Arrow file (`prepare`, `cache`) ->
batches (`batching`). The data set is prepared lazily, on first use of `vocab_size` / `num_classes` /
`pad_id`, because LightningCLI reads those to build the model right after building this module. The
prepared files are cached, keyed by the data's content and every option that changes them, so a
second run on the same data skips loading and tokenizing (one log line says so).

The trained tokenizer and the label names are the module's state: `state_dict` puts them into every
checkpoint as plain strings (checkpoints load with ``weights_only=True``), so a checkpoint alone can
classify raw text. Lightning calls `setup` before `load_state_dict` when resuming, so tokenized splits
are built on the first dataloader request, and rebuilt if `load_state_dict` changed the tokenizer.
"""

import hashlib
import os
from functools import partial
from typing import Any, Optional, Sequence

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from tokenizers import Tokenizer
from torch.utils.data import DataLoader

from textrnn.artifact import CheckpointError, read_record
from textrnn.data.batching import (
    BucketBatchSampler,
    EncodedSplit,
    LengthSortedSampler,
    collate,
    make_batch,
    padding_share,
)
from textrnn.data.cache import encode_to_file, reusable, write_folder
from textrnn.data.multilabel import label_ids_to_multi_hot
from textrnn.data.prepare import Prepared, prepare
from textrnn.data.sources import DataFiles
from textrnn.data.splits import SPLIT_ALIASES, SPLITS, check_known
from textrnn.data.tokenizer import LEVELS, PAD_TOKEN, Level


def _read_table(path: Any) -> Any:
    """A prepared split's Arrow table, memory-mapped."""
    from datasets import Dataset

    return Dataset.from_file(str(path)).data.table


def newest_checkpoint(source: str) -> Any:
    """The checkpoint file ``source`` names: a file, a ``version_N`` folder (its ``checkpoints/last.ckpt``)
    or a run folder such as ``runs/lm_bilstm`` (the newest ``version_*/checkpoints/last.ckpt``)."""
    from pathlib import Path

    path = Path(source).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if (path / "checkpoints" / "last.ckpt").is_file():
            return path / "checkpoints" / "last.ckpt"
        runs = {int(p.parts[-3].removeprefix("version_")): p for p in path.glob("version_*/checkpoints/last.ckpt")
                if p.parts[-3].removeprefix("version_").isdigit()}
        if runs:
            return runs[max(runs)]
        raise FileNotFoundError(f"{source!r} is a folder without version_*/checkpoints/last.ckpt; train the "
                                "language model first (textrnn fit --config lm_bilstm) or give a .ckpt file")
    raise FileNotFoundError(f"{source!r}: no such file or folder; train the language model first "
                            "(textrnn fit --config lm_bilstm) or give the path of its .ckpt file")


def canonical_split(split: str) -> str:
    """The canonical name ("train", "validation" or "test") of a split name or alias such as "val" or "dev"."""
    for name, aliases in SPLIT_ALIASES.items():
        if split in aliases:
            return name
    raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")


class ResumableLoader(DataLoader):
    """The training loader, resumable in mid-epoch through Lightning's stateful-loader protocol.

    Lightning saves ``state_dict()`` in every checkpoint and, when it resumes, calls ``load_state_dict``
    before iterating again: the resumed epoch then goes on with the batches that were left, in the same
    order, instead of starting the epoch over. ``batches_done`` counts the batches that reached a training
    step: `TextDataModule.on_before_batch_transfer` (a public Lightning hook, called for each batch as it goes
    to the step) adds one. The loader's own iterator cannot count them, as Lightning reads a batch ahead.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches_done = 0
        self._resumed_at = 0  # batches already done in the epoch a checkpoint resumes

    def __iter__(self) -> Any:
        self.batches_done, self._resumed_at = self._resumed_at, 0
        return super().__iter__()

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.batch_sampler.epoch, "batches_done": self.batches_done}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self.batch_sampler.resume(state_dict["epoch"], state_dict["batches_done"])
        self._resumed_at = self.batch_sampler.skipped


class TextDataModule(LightningDataModule):
    """Text classification data: the built-in BBC News set, your own CSV/JSON/Parquet files, or the Hub.

    Args:
        dataset: "bbc_news" (built in, offline), "csv", "json" or "parquet" (your files, see
            data_files), or a Hugging Face Hub data set name such as "ag_news" (needs the network).
        config_name: the Hub configuration (subset) of `dataset`, if it has several.
        data_files: your files for csv/json/parquet: a path, a list of paths, or a dict of split ->
            path(s), e.g. '{"train": "train.csv", "test": "test.csv"}'; missing splits are carved out.
        text_column: the column holding the text.
        label_column: the column holding the class (strings, integers, or a ClassLabel).
        level: "word" (words and punctuation; one token per CJK character) or "char".
        lowercase: lowercase text before tokenizing.
        max_vocab_size: the most vocabulary entries, [PAD] and [UNK] included.
        min_frequency: drop tokens seen fewer times than this in the training split.
        max_length: truncate every text to this many tokens.
        val_fraction: the validation share carved out when the data has no validation split.
        test_fraction: the test share carved out when the data has no test split.
        seed: seeds the splits and the batch shuffling.
        batch_size: texts per training batch.
        eval_batch_size: texts per validation/test/predict batch; None means 2 x batch_size.
        num_workers: dataloader worker processes (0 loads batches in the main process).
        bucket: group training texts of similar length into batches, to pad less.
        cache_dir: where prepared (split, tokenized) data is cached; None means $TEXTRNN_CACHE_DIR or
            ~/.cache/textrnn/data. A run on the same data with the same options reuses it.
        tokenize_workers: processes that tokenize the splits when they are prepared (0: this one).
        tokenizer_from: a textrnn checkpoint (a language model's, to fine-tune it) whose vocabulary this
            data uses instead of training its own; truncation stays this module's max_length.
        label_fraction: train on this share of the training texts' labels only (stratified by class, at
            least one text a class), to measure how a model does with few labels; the vocabulary and the
            validation and test splits stay those of all the data.
        label_seed: seeds which training texts keep their labels when label_fraction < 1.
        multi_label: each text has a set of labels (none, one or several); also switched on by
            label_separator, label_columns or a list label column (docs/multi_label.md).
        label_separator: split a string label column on this, e.g. "|" for "sport|politics" (multi-label;
            "|" when multi_label is true and none is given).
        label_columns: several 0/1 columns, one per label, named by the column (multi-label; label_column
            is then not read).
    """

    def __init__(
        self,
        dataset: str = "bbc_news",
        config_name: Optional[str] = None,
        data_files: Optional[DataFiles] = None,
        text_column: str = "text",
        label_column: str = "label",
        level: Level = "word",
        lowercase: bool = True,
        max_vocab_size: int = 30000,
        min_frequency: int = 1,
        max_length: int = 400,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 42,
        batch_size: int = 32,
        eval_batch_size: Optional[int] = None,
        num_workers: int = 0,
        bucket: bool = True,
        cache_dir: Optional[str] = None,
        tokenize_workers: int = 0,
        tokenizer_from: Optional[str] = None,
        label_fraction: float = 1.0,
        label_seed: int = 0,
        multi_label: bool = False,
        label_separator: Optional[str] = None,
        label_columns: Optional[list[str]] = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}; valid levels: {', '.join(map(repr, LEVELS))}")
        for name in ("batch_size", "max_length", "max_vocab_size", "min_frequency"):
            if getattr(self.hparams, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self.hparams, name)!r}")
        if eval_batch_size is not None and eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be >= 1 or None, got {eval_batch_size!r}")
        if not 0.0 < label_fraction <= 1.0:
            raise ValueError(f"label_fraction must be in (0, 1], got {label_fraction!r}")
        for name in ("num_workers", "tokenize_workers"):
            if getattr(self.hparams, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self.hparams, name)!r}")
        if label_separator is not None and (not isinstance(label_separator, str) or not label_separator.strip()):
            raise ValueError(f"label_separator must be a non-blank string such as '|', got {label_separator!r}")
        if label_columns is not None and not label_columns:
            raise ValueError("label_columns is an empty list; name the 0/1 label columns, or leave it unset")
        self._prepared: Optional[Prepared] = None
        self._multi_label: Optional[bool] = None  # fixed by a checkpoint before loading, if any
        self._labels: dict[str, np.ndarray] = {}  # label ids per split, in the order of `label_names`
        self._tokenizer: Optional[Tokenizer] = None
        self._label_names: Optional[list[str]] = None  # fixed by a checkpoint before loading, if any
        self._encoded: dict[str, EncodedSplit] = {}

    # ---- data-derived facts the model needs -------------------------------------------------------

    def _prepare(self) -> None:
        """Prepare the data (or find it in the cache) and install its tokenizer, once (idempotent)."""
        if self._prepared is None:
            hp = self.hparams
            self._prepared = prepare(hp, self._label_names, hp.cache_dir, hp.tokenize_workers)
            if self._label_names is None:
                self._label_names = self._prepared.label_names
            if self._multi_label is not None and self._multi_label != self._prepared.multi_label:
                raise ValueError(f"the checkpoint's model is {'multi' if self._multi_label else 'single'}-label but "
                                 f"the data is {'multi' if self._prepared.multi_label else 'single'}-label")
            self._multi_label = self._prepared.multi_label
            # Detected from the data (a list column, label_separator, label_columns): the hyper-parameter says
            # what the module is, as the model's linked multi_label does (Lightning requires the two to agree).
            self.hparams.multi_label = self._multi_label
            if getattr(self, "_hparams_initial", None) is not None:  # what the loggers record
                self._hparams_initial.multi_label = self._multi_label
            self._relabel()
        if self._tokenizer is None:
            self._tokenizer = Tokenizer.from_str(self._prepared.tokenizer)
            if self.hparams.get("tokenizer_from"):
                self._tokenizer = self._borrowed_tokenizer(self.hparams.tokenizer_from)

    def _borrowed_tokenizer(self, source: str) -> Tokenizer:
        """The vocabulary stored in the textrnn checkpoint ``source`` (a file, or a run folder: its newest
        ``version_*/checkpoints/last.ckpt``), truncating at this module's max_length. When it gives the same
        ids as the prepared one, the prepared one is kept. (The model checks the whole checkpoint, weights
        included, when it loads it; this reads only its tokenizer, with weights_only.)"""
        path = newest_checkpoint(source)
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            record = read_record(checkpoint, repr(str(path)))
            if record is None or not record.has_data:
                raise CheckpointError("the checkpoint holds no tokenizer")
            tokenizer = Tokenizer.from_str(record.tokenizer)
        except Exception as err:  # unreadable, not a checkpoint, no tokenizer, bad JSON: one line, not a traceback
            raise ValueError(f"tokenizer_from {source!r}: no readable textrnn tokenizer in {str(path)!r} "
                             f"({type(err).__name__}: {err})") from None
        tokenizer.enable_truncation(self.hparams.max_length)
        return self._tokenizer if tokenizer.to_str() == self._prepared.tokenizer else tokenizer

    def _relabel(self) -> None:
        """Label ids per split in the order of `label_names` (a checkpoint's order may differ from the data's)."""
        names = self._prepared.label_names
        if self._prepared.multi_label:
            self._relabel_sets(names)
            return
        stored = {split: _read_table(self._prepared.path(split)).column("label").to_numpy() for split in SPLITS}
        if self._label_names == names:
            self._labels = stored
            return
        check_known({s: [names[i] for i in np.unique(ids)] for s, ids in stored.items()}, self._label_names)
        position = {name: i for i, name in enumerate(self._label_names)}
        remap = np.array([position.get(name, -1) for name in names], dtype=np.int64)
        self._labels = {split: remap[ids] for split, ids in stored.items()}

    def _relabel_sets(self, names: list[str]) -> None:
        """Multi-hot (N, L) label sets per split in the order of `label_names`."""
        stored = {split: _read_table(self._prepared.path(split)).column("label").to_pylist() for split in SPLITS}
        check_known({s: [names[i] for i in sorted({j for row in ids for j in row})] for s, ids in stored.items()},
                    self._label_names)
        position = {name: i for i, name in enumerate(self._label_names)}
        remap = [position[name] for name in names]
        self._labels = {split: label_ids_to_multi_hot([[remap[j] for j in row] for row in ids], len(position))
                        for split, ids in stored.items()}

    @property
    def multi_label(self) -> bool:
        """Whether each text has a set of labels (asked for, or detected from the data)."""
        self._prepare()
        return bool(self._multi_label)

    def label_sets(self, split: str = "test") -> list[list[str]]:
        """Each text's labels by name, aligned with `texts` (single-label data: one name each)."""
        self._prepare()
        labels, names = self._labels[canonical_split(split)], self._label_names
        if labels.ndim == 1:
            return [[names[i]] for i in labels.tolist()]
        return [[names[j] for j in np.flatnonzero(row)] for row in labels]

    def label_counts(self, split: str = "train") -> list[int]:
        """Examples per label in a split, in the order of `label_names` (the positives of each, for label sets)."""
        self._prepare()
        labels = self._labels[canonical_split(split)]
        if labels.ndim == 2:
            return [int(c) for c in labels.sum(axis=0).tolist()]
        return np.bincount(labels, minlength=len(self._label_names)).tolist()

    @property
    def tokenizer(self) -> Tokenizer:
        """The vocabulary, trained on the training split (or restored from a checkpoint)."""
        self._prepare()
        return self._tokenizer

    @property
    def vocab_size(self) -> int:
        """Rows the model's embedding needs: the tokenizer's vocabulary size, specials included."""
        return self.tokenizer.get_vocab_size()

    @property
    def pad_id(self) -> int:
        """The padding id (0)."""
        return self.tokenizer.token_to_id(PAD_TOKEN)

    @property
    def label_names(self) -> list[str]:
        """Class names; label id i is label_names[i]."""
        self._prepare()
        return list(self._label_names)

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def texts(self, split: str = "test") -> list[str]:
        """The raw texts of a split, in the order the batches' "index" refers to."""
        self._prepare()
        return _read_table(self._prepared.path(canonical_split(split))).column("text").to_pylist()

    def labels(self, split: str = "test") -> list[int]:
        """The label ids of a split, aligned with `texts` (multi-label: one multi-hot list of 0/1 per text)."""
        self._prepare()
        return self._labels[canonical_split(split)].tolist()

    def encode_texts(self, texts: Sequence[str]) -> dict[str, Any]:
        """A model batch {"ids": (B, T), "lengths": (B,)} for raw texts, in the given order."""
        return make_batch(self.tokenizer, texts, self.pad_id)

    # ---- Lightning hooks ---------------------------------------------------------------------------

    def setup(self, stage: Optional[str] = None) -> None:
        self._prepare()

    def state_dict(self) -> dict[str, Any]:
        """The tokenizer and label names, as plain types, for the checkpoint."""
        return {
            "tokenizer": self.tokenizer.to_str(),
            "label_names": self.label_names,
            "level": self.hparams.level,
            "max_length": self.hparams.max_length,
            **({"multi_label": True} if self.multi_label else {}),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Install a checkpoint's tokenizer and label names; tokenized splits are rebuilt on demand."""
        missing = {"tokenizer", "label_names"} - set(state_dict)
        if missing:
            raise ValueError(f"datamodule state lacks {sorted(missing)}; keys found: {sorted(state_dict)}")
        self._tokenizer = Tokenizer.from_str(state_dict["tokenizer"])
        self._label_names = list(state_dict["label_names"])
        self._multi_label = bool(state_dict.get("multi_label", False))
        if self._prepared is not None and self._prepared.multi_label != self._multi_label:
            raise ValueError(f"the checkpoint's model is {'multi' if self._multi_label else 'single'}-label but "
                             f"the data is {'multi' if self._prepared.multi_label else 'single'}-label")
        if self._prepared is not None:
            self._relabel()
        self._encoded.clear()

    # ---- batches -----------------------------------------------------------------------------------

    def encoded(self, split: str) -> EncodedSplit:
        """A split tokenized once with the current tokenizer (cached until the tokenizer changes)."""
        split = canonical_split(split)
        if split not in self._encoded:
            self._prepare()
            path = self._prepared.path(split)
            tokenizer = self._tokenizer.to_str()
            if tokenizer != self._prepared.tokenizer:  # a checkpoint's tokenizer: its own encoded files
                folder = path.parent / f"tokenizer-{hashlib.sha256(tokenizer.encode()).hexdigest()[:16]}"
                path = folder / f"{split}.arrow"
                if reusable(folder) is None:  # verified like the prepared data; damaged: rebuilt
                    self._encode_with_tokenizer(folder)
            data = EncodedSplit.from_file(str(path))
            data.labels = self._labels[split]
            self._encoded[split] = data
        return self._encoded[split]

    def _encode_with_tokenizer(self, folder: Any) -> None:
        """Tokenize every prepared split again with the current tokenizer, into ``folder``."""
        from datasets import Dataset

        def write(tmp: Any) -> dict[str, Any]:
            for split in SPLITS:
                source = Dataset.from_file(str(self._prepared.path(split)))
                column = source.data.column("label")
                if self._prepared.multi_label:  # label-id lists, written back as they were
                    width = len(self._prepared.label_names)
                    labels = label_ids_to_multi_hot(column.to_pylist(), width)
                else:
                    labels = np.asarray(column.to_numpy())
                encode_to_file(source, "text", labels, self._tokenizer, tmp / f"{split}.arrow", split)
            return {"tokenizer": self._tokenizer.to_str()}

        write_folder(folder, write)

    def _replicas(self) -> tuple[int, int]:
        """(world size, rank): this module shards batches itself in distributed runs."""
        trainer = self.trainer
        if trainer is None or trainer.world_size <= 1:
            return 1, 0
        # Lightning 2.6 exposes the Trainer's use_distributed_sampler only on this private connector; read
        # defensively (absent: no check), since a wrongly sharded run would train on the same batches twice.
        # tests/test_lightning_private.py pins it against the installed Lightning.
        if getattr(getattr(trainer, "_accelerator_connector", None), "use_distributed_sampler", False):
            raise ValueError(
                "TextDataModule shards its batches across processes itself: run the Trainer with "
                f"use_distributed_sampler=False (world size is {trainer.world_size})"
            )
        return trainer.world_size, trainer.global_rank

    def _eval_batch_size(self) -> int:
        return self.hparams.eval_batch_size or 2 * self.hparams.batch_size

    def labelled_rows(self) -> np.ndarray:
        """The training rows whose labels are used: all of them, or a stratified, seeded ``label_fraction``."""
        labels = self._labels_of("train")
        fraction = self.hparams.get("label_fraction", 1.0)
        if fraction >= 1.0:
            return np.arange(len(labels))
        rng = np.random.default_rng(self.hparams.get("label_seed", 0))
        rows = [rng.permutation(np.flatnonzero(labels == c))[: max(1, round(fraction * int((labels == c).sum())))]
                for c in np.unique(labels)]
        return np.sort(np.concatenate(rows))

    def _labels_of(self, split: str) -> np.ndarray:
        return self.encoded(split).labels

    def _train_data(self) -> Any:
        """The training set: every encoded training text, or the `labelled_rows` among them."""
        data = self.encoded("train")
        if self.hparams.get("label_fraction", 1.0) >= 1.0:
            return data
        return torch.utils.data.Subset(data, self.labelled_rows().tolist())

    def _train_lengths(self) -> np.ndarray:
        """The token count of each item of `_train_data`, in its order."""
        lengths = self.encoded("train").lengths
        return lengths if self.hparams.get("label_fraction", 1.0) >= 1.0 else lengths[self.labelled_rows()]

    def _train_sampler(self, num_replicas: int = 1, rank: int = 0) -> BucketBatchSampler:
        hp = self.hparams
        sampler = BucketBatchSampler(
            self._train_lengths(), hp.batch_size, hp.seed, hp.bucket, num_replicas=num_replicas, rank=rank
        )
        sampler.set_epoch(self.trainer.current_epoch if self.trainer is not None else 0)
        return sampler

    def _loader(self, data: EncodedSplit, loader_class: type[DataLoader] = DataLoader, **kwargs: Any) -> DataLoader:
        workers = self.hparams.num_workers
        if workers > 0:
            # Workers never tokenize; say so, or `tokenizers` warns at every fork.
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        return loader_class(
            data,
            collate_fn=partial(collate, pad_id=self.pad_id),
            num_workers=workers,
            persistent_workers=workers > 0,
            # Worker seeds come from this generator, not torch's global one, which dropout alone then
            # uses: a resumed run draws the same masks (textrnn.callbacks.training.ResumeRNGState).
            generator=torch.Generator().manual_seed(self.hparams.seed),
            **kwargs,
        )

    def _eval_loader(self, split: str) -> DataLoader:
        data = self.encoded(split)
        sampler = LengthSortedSampler(data.lengths, *self._replicas())
        return self._loader(data, sampler=sampler, batch_size=self._eval_batch_size())

    def train_dataloader(self) -> DataLoader:
        loader = self._loader(
            self._train_data(), ResumableLoader, batch_sampler=self._train_sampler(*self._replicas())
        )
        self._train_loader = loader
        return loader

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Count each training batch as it goes to the step: what a mid-epoch checkpoint has trained on
        (`ResumableLoader`)."""
        loader = getattr(self, "_train_loader", None)
        if loader is not None and self.trainer is not None and self.trainer.training:
            loader.batches_done += 1
        return batch

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("validation")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    def predict_dataloader(self) -> DataLoader:
        """The test split, longest first; each batch's "index" gives the rows' places in `texts("test")`."""
        return self._eval_loader("test")

    def padding_share(self, split: str = "train") -> float:
        """The share of padded positions in a split's batches, as its dataloader makes them."""
        split = canonical_split(split)
        lengths = self._train_lengths() if split == "train" else self.encoded(split).lengths
        if split == "train":
            batches = self._train_sampler().all_batches()
        else:
            order = LengthSortedSampler(lengths).indices
            size = self._eval_batch_size()
            batches = [order[i : i + size] for i in range(0, len(order), size)]
        return padding_share(batches, lengths)
