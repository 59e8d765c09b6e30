"""`ClassificationReport`: after `fit` tests the best checkpoint, the run directory holds a report whose
numbers agree with the logged test metrics, a confusion matrix over the whole test split, and the worst
examples in the promised order."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from textrnn.cli.app import run_cli
from textrnn.callbacks.report import ClassificationReport, worst_examples

REPORT = "textrnn.callbacks.ClassificationReport"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, tiny_en_csv):
    """A tiny TextRNN fit (ending in a test of the best checkpoint) with the report callback."""
    root = tmp_path_factory.mktemp("report")
    callbacks = json.dumps([{"class_path": REPORT, "init_args": {"worst": 5, "snippet_chars": 20}}])
    cli = run_cli(["fit", "--model", "TextRNN", "--model.init_args.embedding_dim", "16",
                   "--model.init_args.hidden_size", "16", "--model.init_args.lr", "0.01",
                   "--data", "TextDataModule", "--data.init_args.dataset", "csv",
                   "--data.init_args.data_files", tiny_en_csv, "--data.init_args.batch_size", "16",
                   "--data.init_args.eval_batch_size", "5",  # several test batches, so `index` matters
                   "--trainer.max_epochs", "3", "--trainer.enable_progress_bar", "false",
                   "--trainer.enable_model_summary", "false", "--trainer.callbacks", callbacks,
                   "--trainer.default_root_dir", str(root), "--trainer.use_distributed_sampler", "false"])
    return cli, Path(cli.trainer.log_dir)


def test_report_matches_the_logged_test_metrics(fitted):
    cli, run = fitted
    report = json.loads((run / "report.json").read_text())
    metrics = cli.trainer.callback_metrics
    test_size = len(cli.datamodule.texts("test"))
    assert report["num_examples"] == test_size
    assert report["accuracy"] == pytest.approx(metrics["test/acc"].item(), abs=1e-6)
    assert report["f1_macro"] == pytest.approx(metrics["test/f1_macro"].item(), abs=1e-6)
    assert list(report["per_class"]) == ["food", "sports", "tech"]
    assert sum(c["support"] for c in report["per_class"].values()) == test_size
    assert set(report["per_class"]["food"]) == {"precision", "recall", "f1", "support"}
    callback = next(c for c in cli.trainer.callbacks if isinstance(c, ClassificationReport))
    assert callback.last_report == report


def test_report_comes_from_the_test_step_logits_without_a_second_pass(fitted):
    """Testing again calls the model once per test batch (test_step's own forward pass; the report reuses
    its logits) and writes the same report."""
    cli, run = fitted
    before = (run / "report.json").read_text()
    calls = []
    hook = cli.model.register_forward_hook(lambda module, args, output: calls.append(output.shape))
    try:
        cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
    finally:
        hook.remove()
    test_size = len(cli.datamodule.texts("test"))
    assert len(calls) == cli.trainer.num_test_batches[0] > 1
    assert sum(shape[0] for shape in calls) == test_size  # every test text once, not twice
    assert (run / "report.json").read_text() == before


def test_a_test_step_without_logits_is_named(fitted):
    cli, _ = fitted
    callback = ClassificationReport()
    with pytest.raises(TypeError, match="needs TextRNN.test_step to return the logits"):
        callback.on_test_batch_end(cli.trainer, cli.model, None, {}, 0)


def test_confusion_matrix_covers_the_test_split(fitted):
    cli, run = fitted
    with (run / "confusion_matrix.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["true \\ predicted", "food", "sports", "tech"]
    assert [row[0] for row in rows[1:]] == ["food", "sports", "tech"]
    matrix = np.array([[int(x) for x in row[1:]] for row in rows[1:]])  # (3, 3)
    labels = np.array(cli.datamodule.labels("test"))
    assert matrix.sum() == len(labels)
    assert matrix.sum(axis=1).tolist() == np.bincount(labels, minlength=3).tolist()  # rows are true classes
    report = json.loads((run / "report.json").read_text())
    assert np.trace(matrix) / matrix.sum() == pytest.approx(report["accuracy"], abs=1e-9)
    png = (run / "confusion_matrix.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_worst_examples_file(fitted):
    cli, run = fitted
    with (run / "worst_examples.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5
    texts, labels = cli.datamodule.texts("test"), cli.datamodule.labels("test")
    names = cli.datamodule.label_names
    for row in rows:
        text = " ".join(texts[int(row["index"])].split())
        assert row["snippet"] == (text if len(text) <= 20 else text[:19] + "…")
        assert row["true_label"] == names[labels[int(row["index"])]]
        assert 0.0 < float(row["true_prob"]) <= float(row["confidence"]) <= 1.0


def test_worst_examples_order():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])  # (5, 2)
    labels = np.array([0, 0, 0, 0, 1])
    rows = worst_examples(probs, labels, np.arange(5) + 100, list("abcde"), ["x", "y"], limit=4)
    # wrong ones (rows 2, 1) most confident first, then right ones by lowest true-class probability (3, 4)
    assert [r["index"] for r in rows] == [102, 101, 103, 104]
    assert rows[0] == {"index": 102, "snippet": "c", "true_label": "x", "predicted_label": "y",
                       "confidence": 0.8, "true_prob": 0.2}


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="worst must be an integer >= 0, got -1"):
        ClassificationReport(worst=-1)
    with pytest.raises(ValueError, match="snippet_chars must be an integer >= 1, got 0"):
        ClassificationReport(snippet_chars=0)
