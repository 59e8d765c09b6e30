"""A multi-label model end to end: fit (thresholds tuned on validation, stored in the checkpoint), the
test metrics against scikit-learn's, the report, and every prediction path (textrnn.load, classify and
predict files, ONNX export) choosing the same label sets from the checkpoint alone."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, hamming_loss

import textrnn
from textrnn.cli.app import main as textrnn_main
from textrnn.cli.app import run_cli
from textrnn.cli.classify import main as classify_main
from textrnn.inference.checkpoints import CheckpointError
from textrnn.models.multilabel import decide, tune_thresholds
from ml_helpers import multilabel_rows, write_jsonl

REPORT = "textrnn.callbacks.ClassificationReport"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("multilabel")
    data = write_jsonl(root / "data.jsonl", multilabel_rows())
    callbacks = json.dumps([{"class_path": REPORT, "init_args": {"worst": 5}}])
    cli = run_cli(["fit", "--model", "TextCNN", "--model.init_args.embedding_dim", "16",
                   "--model.init_args.num_filters", "16", "--model.init_args.lr", "0.01",
                   "--model.init_args.pos_weight", "balanced",
                   "--checkpoint.monitor", "val/f1_micro", "--checkpoint.mode", "max",
                   "--data", "TextDataModule", "--data.init_args.dataset", "json",
                   "--data.init_args.data_files", data, "--data.init_args.label_column", "labels",
                   "--data.init_args.batch_size", "16", "--data.init_args.eval_batch_size", "4",
                   "--trainer.max_epochs", "8", "--trainer.enable_progress_bar", "false",
                   "--trainer.enable_model_summary", "false", "--trainer.callbacks", callbacks,
                   "--trainer.default_root_dir", str(root / "run"), "--trainer.use_distributed_sampler", "false"])
    alone = root / "alone"
    alone.mkdir()
    ckpt = Path(shutil.copy(cli.trainer.checkpoint_callback.best_model_path, alone / "model.ckpt"))
    return cli, Path(cli.trainer.log_dir), ckpt, data


def test_the_model_learns_label_sets(fitted):
    cli, _, _, _ = fitted
    assert cli.model.multi_label and cli.datamodule.multi_label
    assert cli.trainer.callback_metrics["test/f1_micro"] >= 0.8


def test_thresholds_are_tuned_on_validation_and_stored_in_the_checkpoint(fitted):
    cli, _, ckpt, _ = fitted
    stored = torch.load(ckpt, weights_only=True)
    thresholds = stored["state_dict"]["thresholds"]
    assert thresholds.shape == (3,) and not torch.allclose(thresholds, torch.full((3,), 0.5))
    assert stored["hyper_parameters"]["multi_label"] is True and stored["textrnn"]["task"] == "multi_label"
    clf = textrnn.load(ckpt, device="cpu")
    data = cli.datamodule
    probs = clf.predict_proba(data.texts("validation")).numpy()
    expected = tune_thresholds(probs, np.asarray(data.labels("validation")), 0.5)
    assert np.allclose(thresholds.numpy(), expected, atol=1e-5)  # the validation split's F1-best, for these weights
    assert clf.thresholds == pytest.approx(thresholds.tolist())


def test_test_metrics_equal_scikit_learns(fitted):
    cli, run, ckpt, _ = fitted
    clf = textrnn.load(ckpt, device="cpu")
    data = cli.datamodule
    truth = np.asarray(data.labels("test"))
    predicted = decide(clf.predict_proba(data.texts("test")), clf.thresholds).astype(int)
    logged = cli.trainer.callback_metrics
    expected = {"f1_micro": f1_score(truth, predicted, average="micro", zero_division=0),
                "f1_macro": f1_score(truth, predicted, average="macro", zero_division=0),
                "subset_acc": accuracy_score(truth, predicted), "hamming_loss": hamming_loss(truth, predicted)}
    report = json.loads((run / "report.json").read_text())
    for name, value in expected.items():
        assert float(logged[f"test/{name}"]) == pytest.approx(value, abs=1e-6), name
    assert report["f1_micro"] == pytest.approx(expected["f1_micro"])
    assert report["f1_macro"] == pytest.approx(expected["f1_macro"])
    assert report["subset_accuracy"] == pytest.approx(expected["subset_acc"])
    assert report["hamming_loss"] == pytest.approx(expected["hamming_loss"])
    for j, name in enumerate(data.label_names):
        assert report["per_label"][name]["support"] == int(truth[:, j].sum())
        assert report["per_label"][name]["f1"] == pytest.approx(f1_score(truth[:, j], predicted[:, j], zero_division=0))
    assert list(report["thresholds"].values()) == pytest.approx(clf.thresholds)


def test_report_files(fitted):
    _, run, _, _ = fitted
    assert (run / "per_label_f1.png").stat().st_size > 1000
    with open(run / "worst_examples.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    errors = [int(row["errors"]) for row in rows]
    assert errors == sorted(errors, reverse=True) and all(e >= 1 for e in errors) and len(rows) <= 5
    for row in rows:
        true, pred = set(filter(None, row["true_labels"].split("|"))), set(filter(None, row["predicted_labels"].split("|")))
        assert len(true ^ pred) == int(row["errors"])
        assert set(filter(None, row["missed"].split("|"))) == true - pred


def test_load_predicts_label_sets_from_the_checkpoint_alone(fitted):
    _, _, ckpt, _ = fitted
    clf = textrnn.load(ckpt, device="cpu")
    texts = ["The striker scored a late goal. The chef baked fresh bread.", "The startup released a new laptop.",
             "Nothing much happened on a quiet afternoon number 99."]
    predictions = clf.predict(texts)
    probs = clf.predict_proba(texts)
    for pred, row in zip(predictions, probs.tolist()):
        assert list(pred.probs.values()) == pytest.approx(row)  # sigmoid probabilities, not summing to 1
        assert pred.labels == [n for n, p, t in zip(clf.label_names, row, clf.thresholds) if p >= t]
        assert pred.label == max(pred.probs, key=pred.probs.get) and pred.confidence == max(row)
    top2 = clf.predict(texts, top_k=2)
    assert [len(p.labels) for p in top2] == [2, 2, 2] and set(top2[0].labels) == {"food", "sports"}
    assert predictions[1].labels == ["tech"]
    assert clf.predict(texts, threshold=0.0)[2].labels == clf.label_names
    with pytest.raises(ValueError, match="top_k must be an integer from 1 to the number of labels \\(3\\)"):
        clf.predict(texts, top_k=4)
    with pytest.raises(ValueError, match="threshold must be a number from 0 to 1"):
        clf.predict(texts, threshold=1.5)


def test_classify_and_predict_files_carry_label_sets(fitted, tmp_path, capsys):
    cli, run, ckpt, data = fitted
    texts = tmp_path / "texts.txt"
    texts.write_text("The striker scored a late goal. The chef baked fresh bread.\nThe startup released a laptop.\n")
    assert classify_main(["--ckpt_path", str(ckpt), "--input", str(texts), "--output", str(tmp_path / "o.csv")]) == 0
    assert classify_main(["--ckpt_path", str(ckpt), "--input", str(texts), "--output", str(tmp_path / "o.jsonl")]) == 0
    with open(tmp_path / "o.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:5] == ["index", "text", "label", "labels", "confidence"]
    expected = [p.labels for p in textrnn.load(ckpt, device="cpu").predict(texts.read_text().splitlines())]
    assert [row["labels"].split("|") if row["labels"] else [] for row in rows] == expected
    lines = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [line["labels"] for line in lines] == expected
    assert classify_main(["--ckpt_path", str(ckpt), "--input", str(texts), "--output", str(tmp_path / "k.csv"),
                          "--top_k", "2"]) == 0
    with open(tmp_path / "k.csv", newline="", encoding="utf-8") as handle:
        assert [len(row["labels"].split("|")) for row in csv.DictReader(handle)] == [2, 2]
    assert classify_main(["--ckpt_path", str(ckpt), "--text", "The chef baked bread.", "--top_k", "2"]) == 0
    assert "|" in capsys.readouterr().out
    out = tmp_path / "test_predictions.jsonl"
    textrnn_main(["predict", "--config", str(run / "config.yaml"), "--ckpt_path", str(ckpt), "--output", str(out),
                  "--trainer.enable_progress_bar", "false", "--trainer.logger", "false"])
    written = [json.loads(line) for line in out.read_text().splitlines()]
    clf = textrnn.load(ckpt, device="cpu")
    test_texts = cli.datamodule.texts("test")
    assert [row["text"] for row in written] == test_texts
    assert [row["labels"] for row in written] == [p.labels for p in clf.predict(test_texts)]


def test_onnx_export_returns_sigmoid_probs_and_the_thresholds(fitted, tmp_path):
    pytest.importorskip("onnxruntime")
    from textrnn.inference.onnx import export

    _, _, ckpt, _ = fitted
    folder = export(ckpt, tmp_path / "exported")
    card = json.loads((folder / "model.json").read_text())
    clf, onnx = textrnn.load(ckpt, device="cpu"), textrnn.load(folder)
    assert card["multi_label"] is True and card["thresholds"] == pytest.approx(clf.thresholds)
    assert card["export_parity"] <= 1e-4 and onnx.multi_label and onnx.thresholds == pytest.approx(clf.thresholds)
    texts = ["The striker scored a late goal. The chef baked fresh bread.", "The startup released a laptop.", ""]
    assert (onnx.predict_proba(texts) - clf.predict_proba(texts)).abs().max() <= 1e-4
    assert [p.labels for p in onnx.predict(texts)] == [p.labels for p in clf.predict(texts)]
    card["thresholds"] = [0.5, 2.0, 0.5]
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="a multi-label export needs multi_label true and 3 thresholds"):
        textrnn.load(folder)


@pytest.mark.parametrize("bad", [float("nan"), 1.5, -0.1])
def test_a_checkpoint_with_bad_thresholds_is_refused(fitted, tmp_path, bad):
    _, _, ckpt, _ = fitted
    stored = torch.load(ckpt, weights_only=True)
    stored["state_dict"]["thresholds"][1] = bad
    torch.save(stored, tmp_path / "bad.ckpt")
    with pytest.raises(CheckpointError, match="the per-label thresholds .* are not numbers from 0 to 1"):
        textrnn.load(tmp_path / "bad.ckpt")
    stored = torch.load(ckpt, weights_only=True)
    stored["textrnn"]["task"] = "classification"
    torch.save(stored, tmp_path / "mixed.ckpt")
    with pytest.raises(CheckpointError, match=r"the stored task 'classification' does not match the model's \(multi_label\)"):
        textrnn.load(tmp_path / "mixed.ckpt")
