"""From token ids to padded batches: the encoded dataset, collate, and length-aware samplers.

Batches are dicts of LongTensors, right-padded with ``pad_id``, ``T`` the longest text in the batch:
``{"ids": (B, T), "lengths": (B,), "labels": (B,), "index": (B,)}``; ``index`` is each row's position
in its split, so predictions made in length order can be put back in text order. `make_batch` gives
the same ``ids``/``lengths`` for raw texts, through the same `pad_sequences`.

Training batches are bucketed by length (`BucketBatchSampler`, the "bucket iterator" of torchtext):
shuffle, cut into chunks of ``chunk_batches`` batches, sort each chunk by length, cut it into batches,
shuffle the batches. Padding falls to a few percent while the batch order stays random.
Evaluation goes through the texts longest first (`LengthSortedSampler`).
"""

import itertools
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
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return ids, lengths


def collate(items: Sequence[tuple[Any, int, int]], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Collate `EncodedSplit` items ``(ids, label, index)``; bind ``pad_id`` with functools.partial."""
    ids, lengths = pad_sequences([item[0] for item in items], pad_id)
    return {
        "ids": ids,  # (B, T)
        "lengths": lengths,  # (B,)
        "labels": torch.tensor([item[1] for item in items], dtype=torch.long),  # (B,)
        "index": torch.tensor([item[2] for item in items], dtype=torch.long),  # (B,)
    }


def make_batch(tokenizer: Tokenizer, texts: Sequence[str], pad_id: Optional[int] = None) -> dict[str, torch.Tensor]:
    """Tokenize raw texts into a model batch ``{"ids": (B, T), "lengths": (B,)}`` (no labels)."""
    if isinstance(texts, str):
        raise TypeError("make_batch takes a list of texts, not one string; wrap it: [text]")
    if pad_id is None:
        pad_id = tokenizer.token_to_id(PAD_TOKEN)
    ids, lengths = pad_sequences(encode_batch(tokenizer, texts), pad_id)
    return {"ids": ids, "lengths": lengths}


class EncodedSplit(Dataset):
    """One split's token ids, stored flat (one int32 array plus offsets), with labels.

    Items are ``(ids, label, index)``. A flat array keeps a 100k-text split to a few MB instead of
    millions of Python ints, and pickles cheaply into dataloader workers.
    """

    def __init__(self, ids: Sequence[Sequence[int]], labels: Sequence[int]) -> None:
        if len(ids) != len(labels):
            raise ValueError(f"{len(ids)} encoded texts but {len(labels)} labels")
        self.lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))  # (N,)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])  # (N + 1,)
        self.flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int32, count=int(self.offsets[-1]))
        self.labels = np.asarray(labels, dtype=np.int64)  # (N,)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int, int]:
        start, end = self.offsets[index], self.offsets[index + 1]
        return self.flat[start:end], int(self.labels[index]), int(index)

    def ids(self, index: int) -> list[int]:
        """The token ids of one text."""
        return self[index][0].tolist()


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
