"""From token ids to padded batches: the encoded dataset, collate, and length-aware samplers.

Batches are dicts of LongTensors, right-padded with ``pad_id``, ``T`` the longest text in the batch:
``{"ids": (B, T), "lengths": (B,), "labels": (B,), "index": (B,)}`` (multi-label data: ``labels`` is a
multi-hot float tensor (B, L)); ``index`` is each row's position
in its split, so predictions made in length order can be put back in text order. `raw_batches` is the
one path from raw texts to ``ids``/``lengths`` (`make_batch`, `TextDataModule.encode_texts` and
`textrnn.load(...).predict` all use it), through the same `pad_sequences` as the training batches.

Training batches are bucketed by length (`BucketBatchSampler`, the "bucket iterator" of torchtext):
shuffle, cut into chunks of ``chunk_batches`` batches, sort each chunk by length, cut it into batches,
shuffle the batches. Padding falls to a few percent while the batch order stays random.
Evaluation goes through the texts longest first (`LengthSortedSampler`).
"""

import math
from collections.abc import Iterator, Sequence
from typing import Any, Optional

import numpy as np
import torch
from tokenizers import Tokenizer
from torch.utils.data import Dataset, Sampler

from textrnn.data.tokenizer import PAD_TOKEN, encode_batch


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id sequences to the longest one: returns ``ids`` (B, T) and ``lengths`` (B,)."""
    lengths = torch.tensor([len(seq) for seq in seqs], dtype=torch.long)  # (B,)
    width = int(lengths.max()) if len(seqs) else 0
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)  # (B, T)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.from_numpy(np.asarray(seq, dtype=np.int64))  # a copy, writable
    return ids, lengths


def collate(items: Sequence[tuple[Any, int, int]], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Collate `EncodedSplit` items ``(ids, label, index)``; bind ``pad_id`` with functools.partial."""
    ids, lengths = pad_sequences([item[0] for item in items], pad_id)
    if items and isinstance(items[0][1], np.ndarray):  # multi-label: multi-hot label sets
        labels = torch.from_numpy(np.stack([item[1] for item in items]).astype(np.float32))  # (B, L)
    else:
        labels = torch.tensor([item[1] for item in items], dtype=torch.long)  # (B,)
    return {
        "ids": ids,  # (B, T)
        "lengths": lengths,  # (B,)
        "labels": labels,
        "index": torch.tensor([item[2] for item in items], dtype=torch.long),  # (B,)
    }


def raw_batches(
    tokenizer: Tokenizer, texts: Sequence[str], batch_size: Optional[int] = None, pad_id: Optional[int] = None
) -> list[tuple[list[int], dict[str, torch.Tensor]]]:
    """Raw texts to model batches ``{"ids": (B, T), "lengths": (B,)}``: the one path from text to batch.

    Args:
        tokenizer: the trained tokenizer (truncation included).
        texts: raw texts; an empty one becomes one [UNK] token.
        batch_size: None gives one batch in the order given; a number gives batches of that many texts,
            longest first (ties in input order), so they pad little.
        pad_id: the padding id; None reads it from the tokenizer.

    Returns:
        ``(rows, batch)`` pairs: ``rows[i]`` is the position in ``texts`` of the batch's row i.
    """
    if isinstance(texts, str):
        raise TypeError("make_batch takes a list of texts, not one string; wrap it: [text]")
    if pad_id is None:
        pad_id = tokenizer.token_to_id(PAD_TOKEN)
    ids = encode_batch(tokenizer, texts)  # every text has >= 1 token
    if batch_size is None:
        order, batch_size = list(range(len(ids))), max(1, len(ids))
    else:
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    batches = []
    for start in range(0, max(1, len(order)), batch_size):
        rows = order[start : start + batch_size]
        batch_ids, lengths = pad_sequences([ids[i] for i in rows], pad_id)
        batches.append((rows, {"ids": batch_ids, "lengths": lengths}))
    return batches


def make_batch(tokenizer: Tokenizer, texts: Sequence[str], pad_id: Optional[int] = None) -> dict[str, torch.Tensor]:
    """Tokenize raw texts into one model batch ``{"ids": (B, T), "lengths": (B,)}``, in the order given."""
    return raw_batches(tokenizer, texts, None, pad_id)[0][1]


class EncodedSplit(Dataset):
    """One split's token ids and labels, read from a memory-mapped Arrow table.

    Items are ``(ids, label, index)``. The ids are numpy views of the table's ``ids`` column (a list of
    int32 per text), so nothing is copied: dataloader workers and DDP processes that open the same
    file share its pages. A split pickles as its file's path (workers reopen it) when it has one.

    Args:
        table: a pyarrow Table with an ``ids`` column (list of int32) and a ``label`` column (int64).
        path: the Arrow file the table was read from, if any.
    """

    def __init__(self, table: Any, path: Optional[str] = None) -> None:
        self.path = path
        self._open(table)

    def _open(self, table: Any) -> None:
        chunks = [chunk for chunk in table.column("ids").chunks if len(chunk)]
        self._values = [chunk.values.to_numpy() for chunk in chunks]  # flat int32 ids, per chunk
        self._offsets = [chunk.offsets.to_numpy() for chunk in chunks]  # (n_chunk + 1,) per chunk
        sizes = [len(chunk) for chunk in chunks]
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)  # first row of each chunk
        self.lengths = np.concatenate([np.diff(o) for o in self._offsets] or [[]]).astype(np.int64)  # (N,)
        self.labels = _label_array(table.column("label"))  # (N,), or (N, L) multi-hot for label sets
        if len(self.labels) != len(self.lengths):
            raise ValueError(f"{len(self.lengths)} encoded texts but {len(self.labels)} labels")

    @classmethod
    def from_file(cls, path: str) -> "EncodedSplit":
        """A split from an Arrow file written by `datasets` (memory-mapped)."""
        from datasets import Dataset

        return cls(Dataset.from_file(path).data.table, path)

    def __getstate__(self) -> dict[str, Any]:
        if self.path is None:
            return self.__dict__
        return {"path": self.path, "labels": self.labels}  # labels may have been renumbered

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_values" in state:
            self.__dict__.update(state)
            return
        self.__dict__.update(EncodedSplit.from_file(state["path"]).__dict__)
        self.labels = state["labels"]

    @property
    def flat(self) -> np.ndarray:
        """All token ids, text after text (a copy)."""
        parts = [values[o[0] : o[-1]] for values, o in zip(self._values, self._offsets)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int, int]:
        chunk = int(np.searchsorted(self._starts, index, side="right")) - 1
        offsets = self._offsets[chunk]
        row = index - self._starts[chunk]
        label = self.labels[index] if self.labels.ndim == 2 else int(self.labels[index])
        return self._values[chunk][offsets[row] : offsets[row + 1]], label, int(index)

    def ids(self, index: int) -> list[int]:
        """The token ids of one text."""
        return self[index][0].tolist()


def _label_array(labels: Any) -> np.ndarray:
    """A label column as ids (N,) int64, or a column of label-id lists as a multi-hot (N, L) uint8 array
    (L: the largest id + 1; `TextDataModule` puts the label-name-wide array in place)."""
    import pyarrow as pa

    if not pa.types.is_list(labels.type):
        return np.asarray(labels.to_numpy(), dtype=np.int64)
    ids = labels.to_pylist()
    width = max((max(row) + 1 for row in ids if row), default=0)
    out = np.zeros((len(ids), width), dtype=np.uint8)
    for i, row in enumerate(ids):
        out[i, row] = 1
    return out


class SeededShuffle(Sampler[int]):
    """A permutation of ``range(n)`` drawn from ``seed + epoch``: the same for the same epoch.

    Lightning calls ``set_epoch`` on a batch sampler's ``.sampler`` each epoch; `BucketBatchSampler`
    holds one of these there and reads its epoch.
    """

    def __init__(self, n: int, seed: int = 42) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed + self.epoch)

    def __iter__(self) -> Iterator[int]:
        return iter(torch.randperm(self.n, generator=self.generator()).tolist())

    def __len__(self) -> int:
        return self.n


class BucketBatchSampler(Sampler[list[int]]):
    """Shuffled training batches of similar-length texts, deterministic for a seed and epoch.

    Args:
        lengths: the token count of each text.
        batch_size: texts per batch.
        seed: with the epoch, seeds both shuffles.
        bucket: sort by length within chunks; False gives plain shuffled batches.
        chunk_batches: the chunk sorted at once, in batches: larger pads less but is less random.
        num_replicas: processes in distributed training; each takes a disjoint, equal share of batches
            (batches are repeated from the start to make the count divisible, as DistributedSampler does).
        rank: this process's rank.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int = 32,
        seed: int = 42,
        bucket: bool = True,
        chunk_batches: int = 50,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if batch_size < 1 or chunk_batches < 1:
            raise ValueError(f"batch_size and chunk_batches must be >= 1, got {batch_size} and {chunk_batches}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}), got {rank}")
        if len(lengths) == 0:
            raise ValueError("no texts to batch")
        self.lengths = np.asarray(lengths)
        self.batch_size, self.bucket, self.chunk_batches = batch_size, bucket, chunk_batches
        self.num_replicas, self.rank = num_replicas, rank
        self.sampler = SeededShuffle(len(self.lengths), seed)
        self._skip = 0  # batches the next iteration skips, see `resume`
        n, chunk = len(self.lengths), batch_size * chunk_batches
        if bucket:  # a partial batch may end every chunk
            self.num_batches = sum(math.ceil(min(chunk, n - s) / batch_size) for s in range(0, n, chunk))
        else:
            self.num_batches = math.ceil(n / batch_size)

    @property
    def epoch(self) -> int:
        return self.sampler.epoch

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def all_batches(self) -> list[list[int]]:
        """This epoch's batches for all processes together, in order."""
        generator = self.sampler.generator()
        order = torch.randperm(len(self.lengths), generator=generator).tolist()  # = list(self.sampler)
        size = self.batch_size
        if not self.bucket:
            return [order[i : i + size] for i in range(0, len(order), size)]
        batches = []
        chunk = size * self.chunk_batches
        for start in range(0, len(order), chunk):
            part = sorted(order[start : start + chunk], key=self.lengths.__getitem__)
            batches += [part[i : i + size] for i in range(0, len(part), size)]
        return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]

    def resume(self, epoch: int, batches_done: int) -> None:
        """Go on from a checkpoint taken ``batches_done`` batches into ``epoch``: the next iteration yields
        that epoch's remaining batches, or all of the next epoch's if that one was finished."""
        if batches_done >= len(self):
            epoch, batches_done = epoch + 1, 0
        self.set_epoch(int(epoch))
        self._skip = int(batches_done)

    @property
    def skipped(self) -> int:
        """The batches the next iteration skips: those a resumed checkpoint had done in this epoch."""
        return self._skip

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.all_batches()
        if self.num_replicas > 1:
            total = len(self) * self.num_replicas
            batches += [batches[i % len(batches)] for i in range(total - len(batches))]
            batches = batches[self.rank :: self.num_replicas]
        skip, self._skip = self._skip, 0
        return iter(batches[skip:])

    def __len__(self) -> int:
        return math.ceil(self.num_batches / self.num_replicas)


class LengthSortedSampler(Sampler[int]):
    """Indices longest text first (ties in split order), for evaluation with little padding.

    With ``num_replicas > 1`` each process takes every ``num_replicas``-th index from ``rank``:
    disjoint shares that together cover the split once (counts differ by at most one).
    """

    def __init__(self, lengths: Sequence[int], num_replicas: int = 1, rank: int = 0) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}), got {rank}")
        order = np.argsort(-np.asarray(lengths), kind="stable")
        self.indices = order[rank::num_replicas].tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def padding_share(batches: Sequence[Sequence[int]], lengths: Sequence[int]) -> float:
    """The share of pad positions in ``batches`` (lists of indices into ``lengths``) once padded."""
    lengths = np.asarray(lengths)
    real = padded = 0
    for batch in batches:
        batch_lengths = lengths[list(batch)]
        real += int(batch_lengths.sum())
        padded += int(batch_lengths.max()) * len(batch_lengths)
    return 1.0 - real / padded if padded else 0.0
