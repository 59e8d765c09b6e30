"""Multi-label heads, decisions and loss weights: thresholds tuned to the F1-best against a brute force,
top-k, BCE with pos_weight, the multi-label metrics against scikit-learn's, ONNX parity of multi-label
models, and class_weights raising a rare class's recall on a deliberately skewed fixture."""

import csv
import random

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, hamming_loss, recall_score

from textrnn.data import TextDataModule
from textrnn.models import TextCNN, TextRNN
from textrnn.models.multilabel import (
    balanced_class_weights,
    balanced_pos_weight,
    decide,
    tune_thresholds,
)


def test_tuned_thresholds_reach_the_best_f1_of_any_cut():
    rng = np.random.default_rng(0)
    targets = rng.random((60, 4)) < 0.3
    probs = np.clip(targets * 0.3 + rng.random((60, 4)) * 0.7, 0, 1)
    targets[:, 3] = False  # a label without positives keeps the default
    tuned = tune_thresholds(probs, targets, 0.5)
    assert tuned[3] == 0.5
    for j in range(3):
        best = max(f1_score(targets[:, j], probs[:, j] >= cut, zero_division=0) for cut in np.unique(probs[:, j]))
        assert f1_score(targets[:, j], probs[:, j] >= tuned[j]) == pytest.approx(best)
        assert 0 <= tuned[j] <= 1


def test_decide_by_thresholds_and_top_k():
    probs = np.array([[0.9, 0.5, 0.1], [0.2, 0.3, 0.25]])
    assert decide(probs, 0.5).tolist() == [[True, True, False], [False, False, False]]  # at or above
    assert decide(probs, [0.95, 0.4, 0.2]).tolist() == [[False, True, False], [False, False, True]]
    assert decide(probs, 0.5, top_k=1).tolist() == [[True, False, False], [False, True, False]]
    assert decide(probs, 0.5, top_k=2).sum(1).tolist() == [2, 2]
    with pytest.raises(ValueError, match="top_k must be an integer from 1 to the number of labels"):
        decide(probs, 0.5, top_k=0)


def test_balanced_weights():
    assert balanced_class_weights([60, 30, 10]) == pytest.approx([100 / 180, 100 / 90, 100 / 30])
    assert balanced_pos_weight([10, 50, 0], 100) == pytest.approx([9.0, 1.0, 1.0])


def ragged(vocab=50, lengths=(12, 5, 3, 1)):
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1, vocab, (len(lengths), max(lengths)), generator=generator)
    lengths_t = torch.tensor(lengths)
    ids[torch.arange(max(lengths)) >= lengths_t.unsqueeze(1)] = 0
    return ids, lengths_t


@pytest.mark.parametrize("cls", [TextRNN, TextCNN])
def test_multi_label_head_loss_and_metrics(cls):
    torch.manual_seed(0)
    model = cls(vocab_size=50, num_classes=3, embedding_dim=8, multi_label=True, pos_weight=[1.0, 2.0, 4.0],
                **({"hidden_size": 8} if cls is TextRNN else {"num_filters": 4})).eval()
    ids, lengths = ragged()
    labels = torch.tensor([[1, 0, 1], [0, 0, 0], [0, 1, 0], [1, 1, 1]], dtype=torch.float32)
    loss, logits = model.model_step({"ids": ids, "lengths": lengths, "labels": labels})
    assert logits.shape == (4, 3)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, pos_weight=torch.tensor([1.0, 2.0, 4.0]))
    assert loss.item() == pytest.approx(expected.item())
    assert model.thresholds.tolist() == [0.5, 0.5, 0.5]
    probs = model.predict_step({"ids": ids, "lengths": lengths}, 0)
    assert torch.allclose(probs, logits.sigmoid())
    # The metrics fed the decisions equal scikit-learn's on them.
    rng = np.random.default_rng(1)
    truth = (rng.random((40, 3)) < 0.4).astype(int)
    chosen = (rng.random((40, 3)) < 0.4).astype(int)
    metrics = model.test_metrics.clone()
    metrics.update(torch.tensor(chosen), torch.tensor(truth))
    got = {k.removeprefix("test/"): float(v) for k, v in metrics.compute().items()}
    assert got["f1_micro"] == pytest.approx(f1_score(truth, chosen, average="micro"))
    assert got["f1_macro"] == pytest.approx(f1_score(truth, chosen, average="macro"))
    assert got["subset_acc"] == pytest.approx(accuracy_score(truth, chosen)) == pytest.approx(got["acc"])
    assert got["hamming_loss"] == pytest.approx(hamming_loss(truth, chosen))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"multi_label": True, "class_weights": "balanced"}, "class_weights weights the single-label"),
    ({"pos_weight": [1.0, 1.0, 1.0]}, "pos_weight weights the multi-label BCE loss"),
    ({"class_weights": [1.0, 2.0]}, "class_weights must be 'balanced' or a list of 3 finite numbers"),
    ({"multi_label": True, "pos_weight": "rare"}, "pos_weight must be 'balanced' or a list of 3 numbers"),
    ({"multi_label": True, "threshold": 1.5}, "threshold must be a number from 0 to 1"),
])
def test_bad_weight_and_threshold_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TextCNN(vocab_size=50, num_classes=3, **kwargs)


@pytest.mark.parametrize("cls", [TextRNN, TextCNN])
def test_multi_label_models_export_sigmoid_probs_with_parity(cls, tmp_path):
    pytest.importorskip("onnxruntime")
    from textrnn.inference.onnx import export_onnx, onnx_session, run_session

    torch.manual_seed(0)
    model = cls(vocab_size=50, num_classes=4, embedding_dim=8, multi_label=True,
                **({"hidden_size": 8, "pooling": "attention"} if cls is TextRNN else {"num_filters": 4})).eval()
    session = onnx_session(export_onnx(model, tmp_path / "model.onnx", 50, 0))
    for lengths in ((12, 5, 3, 1), (30, 2)):
        ids, lengths_t = ragged(lengths=lengths)
        with torch.inference_mode():
            expected = model(ids, lengths_t).sigmoid()
        got = run_session(session, ids, lengths_t)
        assert (got - expected).abs().max().item() <= 1e-4
        assert (got.sum(1) - 1).abs().max() > 1e-3  # sigmoid per label, not a softmax


# ---- imbalance: class_weights on a deliberately skewed fixture -----------------------------------------

FILLER = ["the", "news", "today", "report"]


def skewed_rows(counts: dict[str, int], seed: int) -> list[tuple[str, str]]:
    """"rare" texts all hold the cue "zeta"; so do 40% of the "common" ones, and nothing else tells them
    apart: each text is a cue, a filler word and a word of its own (an id such as "t0x17", seen once, so
    [UNK] with min_frequency 2: the texts stay distinct, so none is dropped as a duplicate, yet the model sees
    the same few token sequences in both classes). P(rare | zeta) is 1/5 in every split, so a model that
    fits the training counts calls every zeta text "common", and balanced weights tip it to "rare"."""
    rng = random.Random(seed)
    rows = []
    for label, n in counts.items():
        for i in range(n):
            cue = {"rare": "zeta", "mid": "beta"}.get(label, "zeta" if i % 5 < 2 else "alpha")
            rows.append((f"{cue} {FILLER[i % len(FILLER)]} t{seed}x{label}{i}", label))
    rng.shuffle(rows)
    return rows


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("text", "label"), *rows])
    return str(path)


def rare_recall(files: dict[str, str], class_weights) -> float:
    pl.seed_everything(0, verbose=False)
    data = TextDataModule(dataset="csv", data_files=files, batch_size=16, max_length=32, min_frequency=2)
    model = TextCNN(vocab_size=data.vocab_size, num_classes=data.num_classes, embedding_dim=16, num_filters=8,
                    filter_sizes=(1, 2), lr=0.02, class_weights=class_weights)
    trainer = pl.Trainer(max_epochs=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, use_distributed_sampler=False)
    trainer.fit(model, datamodule=data)
    if class_weights == "balanced":  # computed from the training counts, kept as the loss's weight buffer
        expected = balanced_class_weights(data.label_counts("train"))
        assert model.loss_fn.weight.tolist() == pytest.approx(expected)
        assert model.hparams.class_weights == "balanced"
    probs = torch.cat(trainer.predict(model, datamodule=data))
    index = torch.cat([b["index"] for b in data.predict_dataloader()])
    predicted = probs.argmax(1)[torch.argsort(index)].numpy()
    truth = np.array(data.labels("test"))
    return recall_score(truth, predicted, labels=[data.label_names.index("rare")], average="macro")


def test_balanced_class_weights_raise_the_rare_class_recall(tmp_path):
    files = {split: write_csv(tmp_path / f"{split}.csv", skewed_rows(counts, seed))
             for split, counts, seed in (("train", {"common": 200, "mid": 60, "rare": 20}, 0),
                                         ("validation", {"common": 20, "mid": 6, "rare": 2}, 1),
                                         ("test", {"common": 40, "mid": 12, "rare": 4}, 2))}
    plain = rare_recall(files, None)
    balanced = rare_recall(files, "balanced")
    assert plain <= 0.3 and balanced >= 0.7, (plain, balanced)  # measured: 0.0 and 1.0 at 3, 6 and 12 epochs
