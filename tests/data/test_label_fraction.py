"""label_fraction: a stratified, seeded share of the training labels, every class kept; the vocabulary,
validation and test splits unchanged."""

import collections

import pytest

from textrnn.data import TextDataModule


def test_a_stratified_seeded_share_of_the_training_texts(tiny_datamodule, tmp_path):
    full = tiny_datamodule(cache_dir=str(tmp_path))
    half = tiny_datamodule(cache_dir=str(tmp_path), label_fraction=0.5, label_seed=1)
    rows = half.labelled_rows()
    labels = full.encoded("train").labels
    counts, kept = collections.Counter(labels.tolist()), collections.Counter(labels[rows].tolist())
    assert set(kept) == set(counts)
    assert all(abs(kept[c] - counts[c] / 2) <= 0.5 for c in counts)  # round(half of each class)
    served = sorted(int(i) for batch in half.train_dataloader() for i in batch["index"])
    assert served == rows.tolist()  # the training batches hold exactly those texts
    assert half.labelled_rows().tolist() == rows.tolist()  # seeded
    assert tiny_datamodule(cache_dir=str(tmp_path), label_fraction=0.5, label_seed=2).labelled_rows().tolist() != rows.tolist()
    assert half.tokenizer.to_str() == full.tokenizer.to_str()
    assert half.texts("test") == full.texts("test") and half.texts("validation") == full.texts("validation")
    tiny = tiny_datamodule(cache_dir=str(tmp_path), label_fraction=0.01)
    assert collections.Counter(labels[tiny.labelled_rows()].tolist()) == {c: 1 for c in counts}  # one text a class


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5])
def test_a_fraction_outside_zero_one_is_refused(fraction):
    with pytest.raises(ValueError, match=r"label_fraction must be in \(0, 1\]"):
        TextDataModule(label_fraction=fraction)
