"""`benchmarks.harness`: the per-model summary and its tables, reading runs back, and one tiny comparison
(Text-CNN and TF-IDF, one seed, two batches) that writes its files and is reused on a rerun."""

import csv
import math

import numpy as np
import pytest

from benchmarks import harness as compare
from benchmarks.harness import runs
from benchmarks.harness.notebooks import notebook_settings
from benchmarks.harness.results import Budget, RunResult


def result(model="textcnn", seed=42, accuracy=0.9, f1=0.8, run_dir="/nowhere", **kwargs):
    options = dict(model=model, label=compare.MODELS[model].label, seed=seed, accuracy=accuracy, f1_macro=f1,
                   params=1000, train_s=10.0, infer_texts_per_s=200.0, test_texts=213, threads=1, run_dir=run_dir)
    options.update(kwargs)
    return RunResult(**options)


def test_summary_is_mean_and_sample_std_per_model():
    runs = [result(seed=42, accuracy=0.90, train_s=10.0), result(seed=43, accuracy=0.94, train_s=20.0),
            result("tfidf_svm", accuracy=0.99, f1=0.98)]
    rows = compare.summarize(runs)
    assert [r["model"] for r in rows] == ["textcnn", "tfidf_svm"]
    assert rows[0]["seeds"] == "42 43"
    assert rows[0]["accuracy_mean"] == pytest.approx(0.92)
    assert rows[0]["accuracy_std"] == pytest.approx(np.std([0.90, 0.94], ddof=1))
    assert rows[0]["train_s_mean"] == pytest.approx(15.0)
    assert math.isnan(rows[1]["accuracy_std"])  # one seed: no spread to report

    table = compare.markdown_table(rows).splitlines()
    assert table[0] == "| model | test accuracy | test macro-F1 | parameters | train s | inference texts/s |"
    assert table[2] == "| Text-CNN | 92.00 ± 2.83% | 0.800 ± 0.000 | 1,000 | 15 | 200 |"
    assert table[3] == "| TF-IDF + LinearSVC | 99.00% | 0.980 | 1,000 | 10 | 200 |"


def test_every_neural_model_names_a_shipped_config():
    """Adding a model is one line in MODELS naming a config in configs/ (the package's shipped configs)."""
    from textrnn.cli.configs import shipped_configs

    neural = {name: spec.config for name, spec in compare.MODELS.items() if spec.config}
    assert {"textrnn_bilstm", "textrnn_gru", "textrnn_rnn", "textcnn"} <= set(neural)
    for config in neural.values():
        assert config.endswith(".yaml") and config.removesuffix(".yaml") in shipped_configs(), config
        assert (compare.CONFIG_DIR / config).is_file()


def test_budget_becomes_trainer_overrides():
    assert Budget().trainer_args() == []
    assert Budget(max_epochs=1, limit_train_batches=3).trainer_args() == [
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3"]
    assert "full" in Budget().describe()


def test_notebook_settings_from_the_environment(tmp_path):
    full = notebook_settings({})
    assert full.budget == "full" and full.compare_out == compare.DEFAULT_OUT and full.seeds == (42, 43, 44)
    tiny = notebook_settings({"TEXTRNN_NOTEBOOK_BUDGET": "tiny", "TEXTRNN_NOTEBOOK_OUT": str(tmp_path)})
    assert tiny.out == tmp_path and tiny.seeds == (42,) and tiny.trainer.max_epochs is not None
    with pytest.raises(ValueError, match="TEXTRNN_NOTEBOOK_BUDGET must be 'full' or 'tiny'"):
        notebook_settings({"TEXTRNN_NOTEBOOK_BUDGET": "huge"})


def test_learning_curve_reads_the_last_value_of_each_epoch(tmp_path):
    (tmp_path / "metrics.csv").write_text(
        "epoch,step,train/loss,val/acc\n0,9,1.5,\n0,10,,0.5\n1,19,0.9,\n1,20,,0.75\n1,21,,0.8\n")
    assert compare.learning_curve(tmp_path) == ([0, 1], [0.5, 0.8])
    assert compare.learning_curve(tmp_path / "missing") == ([], [])


def test_accuracy_by_length_bins_the_test_texts(tmp_path):
    tokens = [10, 20, 30, 40, 50, 60, 70, 80]
    truth = ["a"] * 8
    for name, predicted in [("one", ["a"] * 4 + ["b"] * 4), ("two", ["a"] * 8)]:
        run = tmp_path / name
        run.mkdir()
        with (run / "predictions.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["index", "tokens", "true_label", "predicted_label", "confidence"])
            writer.writerows([i, t, y, p, 0.5] for i, (t, y, p) in enumerate(zip(tokens, truth, predicted)))
    runs = [result(seed=42, run_dir=str(tmp_path / "one")), result(seed=43, run_dir=str(tmp_path / "two"))]
    rows = compare.accuracy_by_length(runs, bins=2)
    assert [(r["tokens"], r["texts"]) for r in rows] == [("10-44", 4), ("45-80", 4)]
    assert [r["Text-CNN"] for r in rows] == [1.0, 0.5]  # the two seeds averaged per bin


@pytest.fixture(scope="module")
def tiny_comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    budget = Budget(max_epochs=1, limit_train_batches=2, limit_val_batches=1)
    results = compare.run_comparison(["textcnn", "tfidf_svm"], [42], out, budget, repeats=1, log=lambda _: None)
    return out, budget, results


@pytest.mark.slow  # trains a Text-CNN on BBC (20 s)
def test_tiny_comparison_writes_every_file(tiny_comparison):
    out, _, results = tiny_comparison
    assert [(r.model, r.seed) for r in results] == [("textcnn", 42), ("tfidf_svm", 42)]
    cnn, tfidf = results
    assert cnn.path == out / "textcnn" / "seed42"
    for name in ("config.yaml", "metrics.csv", "report.json", "confusion_matrix.csv", "predictions.csv", "result.json"):
        assert (cnn.path / name).is_file(), name
    assert cnn.checkpoint_path.is_file() and cnn.params > 0 and cnn.train_s > 0 and cnn.infer_texts_per_s > 0
    assert tfidf.accuracy > 0.95 and tfidf.checkpoint is None
    for run in results:  # the timed predictions are the tested model's: same accuracy as the test
        predictions = compare.read_predictions(run.path)
        assert len(predictions) == run.test_texts == 213
        assert np.mean([p["true_label"] == p["predicted_label"] for p in predictions]) == pytest.approx(
            run.accuracy, abs=1e-6)
    with (out / "runs.csv").open(newline="") as handle:
        assert [row["model"] for row in csv.DictReader(handle)] == ["textcnn", "tfidf_svm"]
    summary = (out / "summary.md").read_text()
    assert "| Text-CNN |" in summary and "| TF-IDF + LinearSVC |" in summary and "limit_train_batches=2" in summary
    assert [r.model for r in compare.load_results(out)] == ["textcnn", "tfidf_svm"]


@pytest.mark.slow
def test_rerun_reuses_finished_runs_and_retrains_outdated_ones(tiny_comparison, monkeypatch):
    out, budget, first = tiny_comparison

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(runs, "run_neural", no_training)
    monkeypatch.setattr(runs, "run_tfidf", no_training)
    again = compare.run_comparison(["textcnn", "tfidf_svm"], [42], out, budget, repeats=1, log=lambda _: None)
    assert [(r.accuracy, r.train_s) for r in again] == [(r.accuracy, r.train_s) for r in first]
    cnn = out / "textcnn" / "seed42"
    assert runs.finished_run(cnn, runs.run_settings("textcnn", budget)) is not None
    assert runs.finished_run(cnn, runs.run_settings("textcnn", Budget(max_epochs=2))) is None  # retrained


def test_unknown_model_is_named(tmp_path):
    with pytest.raises(ValueError, match="unknown models \\['lstm'\\]"):
        compare.run_comparison(["lstm"], [42], tmp_path)
