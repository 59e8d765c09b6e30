"""`textrnn predict --output`: the prediction writer writes one row per text of the test split or of an
--input file, with the probabilities `textrnn.load(ckpt).predict` gives, under classify's file guards."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import textrnn
from textrnn.cli.app import main
from textrnn.files import read_texts


@pytest.fixture(scope="module")
def run(tiny_run) -> SimpleNamespace:
    """The session's trained run (tests/conftest.py), read only."""
    return SimpleNamespace(ckpt=tiny_run.ckpt, config=tiny_run.config, data=tiny_run.cli.datamodule)


def predict(run: SimpleNamespace, *args: str) -> None:
    main(["predict", "--config", str(run.config), "--ckpt_path", str(run.ckpt),
          "--trainer.enable_progress_bar", "false", *args])


def read_rows(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return [{k: (v if k in ("text", "label") else float(v)) for k, v in row.items()}
                    for row in csv.DictReader(handle)]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n")[:-1]]


def assert_rows_match_load(rows: list[dict], texts: list[str], ckpt: Path) -> None:
    classifier = textrnn.load(ckpt, device="cpu")
    names = classifier.label_names
    assert list(rows[0]) == ["index", "text", "label", "confidence", *(f"prob_{n}" for n in names)]
    assert [int(row["index"]) for row in rows] == list(range(len(texts)))
    assert [row["text"] for row in rows] == texts
    written = torch.tensor([[row[f"prob_{n}"] for n in names] for row in rows])  # (N, C)
    torch.testing.assert_close(written, classifier.predict_proba(texts), atol=1e-5, rtol=1e-5)
    assert [row["label"] for row in rows] == [p.label for p in classifier.predict(texts)]
    assert [row["confidence"] for row in rows] == pytest.approx(written.max(dim=1).values.tolist())


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_predict_writes_the_test_split(run, tmp_path, suffix):
    out = tmp_path / f"preds{suffix}"
    predict(run, "--output", str(out))
    texts = run.data.texts("test")
    assert len(texts) == 12
    assert_rows_match_load(read_rows(out), texts, run.ckpt)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary file left


def test_predict_writes_an_input_file_of_texts(run, tmp_path):
    texts = ["The striker scored\fa goal\u2028late", "", "fresh bread and soup\x1c", "a new chip for the cloud"]
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "preds.jsonl"
    predict(run, "--input", str(source), "--output", str(out))
    assert read_texts(source) == texts
    assert_rows_match_load(read_rows(out), texts, run.ckpt)


def test_predict_input_csv_with_a_text_column(run, tmp_path):
    source = tmp_path / "texts.csv"
    source.write_text('id,body\n1,"goal, match"\n2,bread\n', encoding="utf-8")
    out = tmp_path / "preds.csv"
    predict(run, "--input", str(source), "--text_column", "body", "--output", str(out))
    assert_rows_match_load(read_rows(out), ["goal, match", "bread"], run.ckpt)


def test_predict_output_guards(run, tmp_path, capsys, tiny_en_csv):
    def error(*args: str) -> str:
        with pytest.raises(SystemExit) as exit_info:
            predict(run, *args)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and "Traceback" not in err, err
        return err

    data = Path(tiny_en_csv).read_bytes()
    assert "is the input file" in error("--output", tiny_en_csv, "--overwrite")  # the training data
    assert Path(tiny_en_csv).read_bytes() == data
    source = tmp_path / "texts.csv"
    source.write_text("text\ngoal\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(source)
    assert "is the input file" in error("--input", str(source), "--output", str(link), "--overwrite")
    assert source.read_text(encoding="utf-8") == "text\ngoal\n"

    out = tmp_path / "preds.csv"
    out.write_text("old\n")
    assert "already exists; pass --overwrite" in error("--output", str(out))
    assert out.read_text() == "old\n"
    predict(run, "--output", str(out), "--overwrite")
    assert len(read_rows(out)) == 12
    assert "--input needs --output" in error("--input", str(source))
    bad = tmp_path / "bad.csv"
    bad.write_text('text\n"open\n', encoding="utf-8")
    assert "bad.csv:2: malformed CSV record" in error("--input", str(bad), "--output", str(tmp_path / "o.csv"))


def test_predict_without_output_writes_nothing(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    predict(run, "--trainer.default_root_dir", str(tmp_path))
    assert not list(tmp_path.rglob("*.csv")) and not list(tmp_path.rglob("*.jsonl"))


@pytest.mark.slow
def test_ddp_predict_writes_each_test_text_once(run, tmp_path):
    """Two CPU processes each predict a share of the test split; rank 0 gathers and writes every row once."""
    out = tmp_path / "ddp.csv"
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-m", "textrnn.cli", "predict", "--config", str(run.config), "--ckpt_path", str(run.ckpt),
         "--output", str(out), "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu",
         "--trainer.enable_progress_bar", "false", "--trainer.logger", "false"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in done.stdout + done.stderr
    assert_rows_match_load(read_rows(out), run.data.texts("test"), run.ckpt)
