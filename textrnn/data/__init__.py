"""Data for textrnn: text classification data modules, the tokenizer, and batching.

`TextDataModule` and `SineDataModule` (the sine regression) are what the CLI and notebooks use. The rest
is exported for prediction on raw text (`raw_batches`, `make_batch`, with a tokenizer restored by
`tokenizers.Tokenizer.from_str`) and for tests.
"""

from textrnn.data.batching import (
    BucketBatchSampler,
    EncodedSplit,
    LengthSortedSampler,
    collate,
    make_batch,
    pad_sequences,
    raw_batches,
)
from textrnn.data.lm import LanguageModelDataModule, TokenWindows
from textrnn.data.sine import SineDataModule
from textrnn.data.sources import HubUnavailableError, load_raw, read_bbc_news
from textrnn.data.splits import Splits, make_splits
from textrnn.data.text import TextDataModule
from textrnn.data.tokenizer import PAD_TOKEN, UNK_TOKEN, build_tokenizer, encode_batch

__all__ = [
    "PAD_TOKEN",
    "UNK_TOKEN",
    "BucketBatchSampler",
    "EncodedSplit",
    "HubUnavailableError",
    "LanguageModelDataModule",
    "LengthSortedSampler",
    "SineDataModule",
    "Splits",
    "TextDataModule",
    "TokenWindows",
    "build_tokenizer",
    "collate",
    "encode_batch",
    "load_raw",
    "make_batch",
    "make_splits",
    "pad_sequences",
    "raw_batches",
    "read_bbc_news",
]
