"""``bbc_news_multilabel``: a reproducible multi-label set made from the built-in BBC News articles.

BBC News is single-label (5 topics). To have multi-label data that works offline and that every run
sees identically, we build one from it, seeded:

1. the 2,225 articles, exact duplicates removed (2,124 left, as for ``bbc_news``), each cut to its first
   `WORDS` words (the headline and lead, which carry the topic), so that two joined articles fit the
   configs' ``max_length`` of 400 tokens and every model and the TF-IDF baseline see the same text;
2. the **articles** split 80/10/10 per class, seeded (`SEED`): no article is in two splits;
3. within each split, in a seeded order, each article becomes an example alone (labels: its class) or,
   with probability `PAIR_SHARE`, is joined (a blank line between) to the next unused article of another
   class (labels: both classes). Each article is used once.

The result has columns ``text`` and ``label`` (a list of class names, sorted), splits ``train``,
``validation`` and ``test``; 15 label sets occur (5 single, 10 pairs). `VERSION` is part of the cache key:
change it with the construction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

NAME = "bbc_news_multilabel"
VERSION = 1
SEED = 0
WORDS = 150
PAIR_SHARE = 0.5
FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def _lead(text: str, words: int = WORDS) -> str:
    lines = [" ".join(line.split()) for line in text.splitlines()]
    kept, count = [], 0
    for line in filter(None, lines):
        tokens = line.split()
        kept.append(" ".join(tokens[: words - count]))
        count += min(len(tokens), words - count)
        if count >= words:
            break
    return "\n".join(kept)


def build_examples(texts: list[str], classes: list[str], seed: int = SEED) -> dict[str, dict[str, list]]:
    """The construction above on any (texts, classes): split -> {"text": [...], "label": [[...], ...], "articles": [...]}.

    ``articles`` holds the indices of the article(s) each example joins (kept for tests)."""
    rng = np.random.default_rng(seed)
    classes_arr = np.asarray(classes)
    assigned: dict[str, list[int]] = {split: [] for split in FRACTIONS}
    for name in sorted(set(classes)):  # per class, so every split has each class at its share
        members = rng.permutation(np.flatnonzero(classes_arr == name)).tolist()
        n_test = round(FRACTIONS["test"] * len(members))
        n_val = round(FRACTIONS["validation"] * len(members))
        assigned["test"] += members[:n_test]
        assigned["validation"] += members[n_test : n_test + n_val]
        assigned["train"] += members[n_test + n_val :]
    out = {}
    for split, members in assigned.items():
        order = rng.permutation(sorted(members)).tolist()
        used = set()
        text_out, label_out, articles = [], [], []
        for position, first in enumerate(order):
            if first in used:
                continue
            used.add(first)
            partner = None
            if rng.random() < PAIR_SHARE:
                partner = next((j for j in order[position + 1 :] if j not in used and classes[j] != classes[first]),
                               None)
            if partner is None:
                text_out.append(texts[first])
                label_out.append([classes[first]])
                articles.append([first])
            else:
                used.add(partner)
                text_out.append(texts[first] + "\n\n" + texts[partner])
                label_out.append(sorted({classes[first], classes[partner]}))
                articles.append([first, partner])
        out[split] = {"text": text_out, "label": label_out, "articles": articles}
    return out


def read_bbc_news_multilabel(bbc: "Dataset") -> "DatasetDict":
    """The built-in multi-label BBC set (module docstring) as a `datasets.DatasetDict` of three splits, made
    from ``bbc``, the built-in BBC News articles (`textrnn.data.sources.read_bbc_news`)."""
    from datasets import Dataset, DatasetDict, Features, Sequence, Value

    from textrnn.data.splits import dedupe

    names = bbc.features["label"].names
    keep = dedupe(bbc["text"])
    texts = [_lead(bbc[i]["text"]) for i in keep]
    classes = [names[bbc[i]["label"]] for i in keep]
    built = build_examples(texts, classes)
    features = Features({"text": Value("string"), "label": Sequence(Value("string"))})
    return DatasetDict({split: Dataset.from_dict({"text": part["text"], "label": part["label"]}, features=features)
                        for split, part in built.items()})
