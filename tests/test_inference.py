"""`textrnn.load` and `textrnn classify`: a checkpoint copied alone into an empty folder classifies raw
English and Chinese text, unsafe or broken files are refused with a clear message, and the CLI reads
.txt/.csv/.jsonl and writes CSV/JSONL."""

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch

import textrnn
from textrnn.cli.app import main as textrnn_main
from textrnn.cli.app import run_cli
from textrnn.data import build_tokenizer
from textrnn.cli.classify import main as classify_main

EN_CLEAR = {
    "The striker scored a late goal in the cup final.": "sports",
    "The chef baked fresh bread with garlic for the dinner menu.": "food",
    "The software startup released a new chip for the cloud.": "tech",
}
ZH_CLEAR = {"球队赢得了足球比赛。": "体育", "奶奶做了饺子和面条。": "美食", "研究团队发布了电脑芯片。": "科技"}


def fit_alone(root: Path, data_file: str, model: list[str]) -> Path:
    """Fit a tiny model on ``data_file`` and copy its best checkpoint, alone, into an empty folder."""
    # Keep the lowest validation loss, not the first epoch at val/acc 1.0: keyword texts then get a clear margin.
    fit = run_cli(["fit", *model, "--model.init_args.lr", "0.01", "--checkpoint.monitor", "val/loss",
                   "--checkpoint.mode", "min",
                   "--data", "TextDataModule", "--data.init_args.dataset", "csv",
                   "--data.init_args.data_files", data_file, "--data.init_args.batch_size", "16",
                   "--trainer.max_epochs", "8", "--trainer.enable_progress_bar", "false",
                   "--trainer.enable_model_summary", "false",
                   "--trainer.default_root_dir", str(root / "run"), "--trainer.use_distributed_sampler", "false"])
    assert fit.trainer.callback_metrics["test/acc"] >= 0.9
    alone = root / "alone"
    alone.mkdir()
    return Path(shutil.copy(fit.trainer.checkpoint_callback.best_model_path, alone / "model.ckpt"))


@pytest.fixture(scope="module")
def en_ckpt(tmp_path_factory, tiny_en_csv) -> Path:
    rnn = ["--model", "TextRNN", "--model.init_args.embedding_dim", "16", "--model.init_args.hidden_size", "16"]
    return fit_alone(tmp_path_factory.mktemp("en"), tiny_en_csv, rnn)


@pytest.fixture(scope="module")
def zh_ckpt(tmp_path_factory, tiny_zh_csv) -> Path:
    cnn = ["--model", "TextCNN", "--model.init_args.embedding_dim", "16", "--model.init_args.num_filters", "8"]
    return fit_alone(tmp_path_factory.mktemp("zh"), tiny_zh_csv, cnn)


@pytest.fixture(scope="module")
def en(en_ckpt) -> textrnn.Classifier:
    return textrnn.load(en_ckpt, device="cpu")


def test_checkpoint_alone_classifies_english(en_ckpt, en):
    assert sorted(p.name for p in en_ckpt.parent.iterdir()) == ["model.ckpt"]
    assert en.label_names == ["food", "sports", "tech"]
    assert type(en.model).__name__ == "TextRNN" and not en.model.training
    texts = [*EN_CLEAR, ""]
    predictions = en.predict(texts, batch_size=2)
    assert [p.label for p in predictions[:-1]] == list(EN_CLEAR.values())
    assert min(p.confidence for p in predictions[:-1]) > 0.5  # clearly, not by a hair
    for p in predictions:  # the empty string too
        assert list(p.probs) == en.label_names
        assert sum(p.probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert p.confidence == max(p.probs.values()) and p.probs[p.label] == p.confidence


def test_checkpoint_alone_classifies_chinese(zh_ckpt):
    zh = textrnn.load(zh_ckpt, device="cpu")
    assert type(zh.model).__name__ == "TextCNN"
    assert sorted(zh.label_names) == ["体育", "科技", "美食"]
    assert [p.label for p in zh.predict(list(ZH_CLEAR))] == list(ZH_CLEAR.values())


def test_predictions_keep_input_order_and_match_one_by_one(en):
    # Lengths differ, so the internal length sort reorders them; batch size 1 cannot reorder anything.
    texts = ["goal", "", *EN_CLEAR, "The chef baked bread. " * 20, "tech"]
    together = en.predict_proba(texts, batch_size=3)
    alone = torch.cat([en.predict_proba(text, batch_size=1) for text in texts])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)
    assert en.predict("goal")[0] == en.predict(texts)[0]  # one string is one text
    assert en.predict([]) == []


def test_bad_arguments_are_named(en):
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        en.predict(["x"], batch_size=0)
    with pytest.raises(TypeError, match=r"texts\[1\] is a int"):
        en.predict(["x", 3])
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        textrnn.Classifier(en.model, en.tokenizer, en.label_names, device="gpu0")


class Payload:
    """Not a tensor or a plain type: weights_only=True must refuse to unpickle it."""


def test_refuses_a_checkpoint_with_a_pickled_object(en_ckpt, tmp_path):
    checkpoint = torch.load(en_ckpt, weights_only=True)
    checkpoint["extra"] = Payload()
    torch.save(checkpoint, tmp_path / "unsafe.ckpt")
    with pytest.raises(textrnn.CheckpointError, match=r"pickled Python objects.*Payload.*refused"):
        textrnn.load(tmp_path / "unsafe.ckpt")


def test_refuses_missing_truncated_and_foreign_files(en_ckpt, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        textrnn.load(tmp_path / "nope.ckpt")
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(en_ckpt.read_bytes()[: en_ckpt.stat().st_size // 2])
    with pytest.raises(textrnn.CheckpointError, match="truncated or corrupt"):
        textrnn.load(truncated)
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 3}, tmp_path / "foreign.ckpt")
    with pytest.raises(textrnn.CheckpointError, match=r"not a textrnn checkpoint: it lacks \['hyper_parameters', "
                                                      r"'textrnn'\]"):
        textrnn.load(tmp_path / "foreign.ckpt")


def test_refuses_model_classes_outside_textrnn(en_ckpt, tmp_path):
    checkpoint = torch.load(en_ckpt, weights_only=True)
    for bad in ("os.system", "torch.nn.Linear", "textrnn.models.sine.SineRNN", "textrnn.data.build_tokenizer"):
        checkpoint["textrnn"]["model_class"] = bad
        torch.save(checkpoint, tmp_path / "bad.ckpt")
        with pytest.raises(textrnn.CheckpointError, match=f"refusing model class '{bad}'"):
            textrnn.load(tmp_path / "bad.ckpt")


def test_refuses_a_vocabulary_that_does_not_fit_the_weights(en_ckpt, tmp_path):
    checkpoint = torch.load(en_ckpt, weights_only=True)
    checkpoint["textrnn"]["tokenizer"] = build_tokenizer(["only a few words here"]).to_str()
    torch.save(checkpoint, tmp_path / "mismatch.ckpt")
    with pytest.raises(textrnn.CheckpointError, match=r"tokenizer has 7 tokens but the model's embedding has \d+ rows"):
        textrnn.load(tmp_path / "mismatch.ckpt")


# ---- textrnn classify ------------------------------------------------------------------------------


def write_inputs(folder: Path, texts: list[str]) -> dict[str, Path]:
    (folder / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    with (folder / "in.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "body"])
        writer.writerows([i, text] for i, text in enumerate(texts))
    with (folder / "in.jsonl").open("w", encoding="utf-8") as handle:
        for i, text in enumerate(texts):
            handle.write(json.dumps({"id": i, "body": text}, ensure_ascii=False) + "\n")
    return {suffix: folder / f"in{suffix}" for suffix in (".txt", ".csv", ".jsonl")}


def read_outputs(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("source", [".txt", ".csv", ".jsonl"])
@pytest.mark.parametrize("target", [".csv", ".jsonl"])
def test_classify_files(zh_ckpt, tmp_path, source, target):
    texts = list(ZH_CLEAR)
    inputs = write_inputs(tmp_path, texts)
    out = tmp_path / "out" / f"predictions{target}"
    argv = ["--ckpt_path", str(zh_ckpt), "--input", str(inputs[source]), "--output", str(out), "--batch_size", "2"]
    if source != ".txt":
        argv += ["--text_column", "body"]
    assert classify_main(argv) == 0
    rows = read_outputs(out)
    names = textrnn.load(zh_ckpt, device="cpu").label_names
    assert list(rows[0]) == ["index", "text", "label", "confidence", *(f"prob_{name}" for name in names)]
    assert [int(row["index"]) for row in rows] == list(range(len(texts)))
    assert [row["text"] for row in rows] == texts
    assert [row["label"] for row in rows] == list(ZH_CLEAR.values())
    for row in rows:
        probs = [float(row[f"prob_{name}"]) for name in names]
        assert sum(probs) == pytest.approx(1.0, abs=1e-5)
        assert float(row["confidence"]) == max(probs) == float(row[f"prob_{row['label']}"])


def test_classify_one_text_through_the_textrnn_command(en_ckpt, capsys):
    text = next(iter(EN_CLEAR))
    textrnn_main(["classify", "--ckpt_path", str(en_ckpt), "--text", text])  # exit code 0: returns
    out = capsys.readouterr().out
    assert out.startswith(EN_CLEAR[text]) and all(name in out for name in ("food", "sports", "tech"))


def test_classify_prints_a_table_without_output(en_ckpt, tmp_path, capsys):
    inputs = write_inputs(tmp_path, list(EN_CLEAR))
    assert classify_main(["--ckpt_path", str(en_ckpt), "--input", str(inputs[".txt"])]) == 0
    out = capsys.readouterr().out
    assert "label" in out and "sports" in out and "food" in out


def test_classify_user_errors_end_in_one_message(en_ckpt, tmp_path, capsys):
    inputs = write_inputs(tmp_path, list(EN_CLEAR))
    assert classify_main(["--ckpt_path", str(en_ckpt), "--input", str(inputs[".csv"])]) == 2
    assert "no column 'text'; columns found: ['id', 'body']" in capsys.readouterr().err
    assert classify_main(["--ckpt_path", str(en_ckpt), "--input", str(inputs[".jsonl"])]) == 2
    assert "has no field 'text'; fields found: ['body', 'id']" in capsys.readouterr().err
    assert classify_main(["--ckpt_path", str(en_ckpt), "--text", "x", "--output", str(tmp_path / "o.xlsx")]) == 2
    assert "'.xlsx'; valid extensions: .csv, .jsonl" in capsys.readouterr().err
    assert classify_main(["--ckpt_path", str(tmp_path / "missing.ckpt"), "--text", "x"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    assert classify_main(["--ckpt_path", str(en_ckpt)]) == 2  # neither --text nor --input
    with pytest.raises(SystemExit) as exit_info:
        textrnn_main(["classify", "--ckpt_path", str(en_ckpt), "--input", str(tmp_path / "none.txt")])
    assert exit_info.value.code == 2 and "no input file" in capsys.readouterr().err
