"""The BBC News split and vocabulary, pinned by hash: every README number was measured on exactly these.

The hashes were computed from the list-based pipeline before the data moved to Arrow; any change to
loading, deduplication, splitting or vocabulary training that moves one text fails here.
"""

import hashlib

import pytest

from textrnn.data import TextDataModule

# split -> (size, sha256 of the sorted texts, sha256 of the texts with their labels in split order)
PINNED = {
    "train": (
        1698,
        "c4c551789a2882f1bd633b15c1190f3a57627e798cfec36c0615f86604b670df",
        "38662a9fd89d052eee4472b08d19d6fad59a782dc67075598e0bc624400a2858",
    ),
    "validation": (
        213,
        "548ce2379158cd8f311c2d19cde0a6e8bf53377e8447e0f94bb97a863023e97d",
        "738cc552a03a4cfa19380cb8c842b8df980da65492ebcf95d3df36472d6b5886",
    ),
    "test": (
        213,
        "cb94f34762b209e0549868c8d65da4ee4bcad161d4cee52c505171ccc75782db",
        "a25c7eb73515ea0d36797125d2b0154acde12fecabbc04f8978e120c25626b2b",
    ),
}
VOCABULARY = (27336, "bc46047eff63e81023c97f5613cb96b92e6ed9094de4a4a4c11f375089e00b95")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def bbc():
    return TextDataModule()


@pytest.mark.parametrize("split", list(PINNED))
def test_bbc_split_membership_and_order_are_pinned(bbc, split):
    size, members, ordered = PINNED[split]
    texts, labels = bbc.texts(split), bbc.labels(split)
    assert len(texts) == size
    assert sha256("\x00".join(sorted(texts))) == members
    assert sha256("\x00".join(f"{text}\x01{label}" for text, label in zip(texts, labels))) == ordered


def test_bbc_vocabulary_is_pinned(bbc):
    size, digest = VOCABULARY
    vocab = sorted(bbc.tokenizer.get_vocab().items(), key=lambda item: item[1])
    assert len(vocab) == size and sha256(repr(vocab)) == digest
