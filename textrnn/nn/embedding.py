"""Word embeddings initialised small, as Kim (2014) does for randomly initialised vectors.

torch's default N(0, 1) start gives every word a vector of norm ~sqrt(dim); Adam moves each weight by
about ``lr`` per step, so on a small data set words barely leave their random start. U(-0.25, 0.25)
(Kim's "CNN-rand") lets the vectors learn in a few epochs: on BBC it is the difference between
a slow crawl and convergence (docs/design.md, "Small embeddings at the start").

Pretrained vectors replace this start when a fit begins (``textrnn.nn.vectors.fill_embedding``);
``freeze=True`` keeps the table fixed, Kim's "static" variant.
"""

from __future__ import annotations

import torch
from torch import nn

from textrnn.nn.checks import MAX_VOCAB, check_size


def word_embedding(
    vocab_size: int, dim: int, pad_id: int, init_range: float = 0.25, freeze: bool = False
) -> nn.Embedding:
    """An ``nn.Embedding`` drawn from U(-init_range, init_range) whose padding row stays zero; with
    ``freeze`` its weights get no gradient (and so no optimizer step)."""
    check_size("vocab_size", vocab_size, high=MAX_VOCAB)
    check_size("embedding_dim", dim)
    check_size("pad_id", pad_id, low=0, high=vocab_size - 1)
    embedding = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
    embedding.weight.requires_grad_(not freeze)
    nn.init.uniform_(embedding.weight, -init_range, init_range)
    with torch.no_grad():
        embedding.weight[pad_id].zero_()
    return embedding
