"""ONNX export (`textrnn.inference.onnx`, `textrnn export`): the exported graph gives torch's probabilities to
1e-4 for every cell, direction, pooling, a stacked encoder and the Text-CNN, over texts of 1 to 400 tokens in
batches of 1, 7 and 64; an exported folder classifies like its checkpoint through `textrnn.load` and
`textrnn classify`; without the onnx extra, export fails in one line and the core never imports onnx."""

import json
import re
import runpy
import sys
from pathlib import Path

import pytest
import torch

import textrnn
from textrnn.cli.app import main as textrnn_main
from textrnn.cli.app import run_cli
from textrnn.inference.checkpoints import CheckpointError
from textrnn.inference.onnx import PARITY_TOLERANCE, export_onnx, onnx_session, run_session
from textrnn.models import TextCNN, TextRNN
from tiny_args import tiny_fit_args

REPO = Path(__file__).resolve().parents[1]
VOCAB, PAD, CLASSES = 60, 0, 4
# (batch size, lengths): every length from 1 to 400 occurs, short and long texts share batches.
BATCHES = [
    (1, [1]),
    (1, [400]),
    (7, [400, 1, 2, 57, 133, 399, 5]),
    (64, torch.linspace(1, 400, 64).round().long().tolist()),
]
RNN_CASES = [
    *({"cell": cell, "bidirectional": bi, "pooling": "max"} for cell in ("rnn", "lstm", "gru") for bi in (False, True)),
    *({"cell": "lstm", "bidirectional": True, "pooling": pooling} for pooling in ("last", "mean", "attention")),
    {"cell": "lstm", "bidirectional": False, "pooling": "last"},  # the forward state at each text's own end
    # Stacked, ReLU RNN, learned initial state (set to non-zero values below).
    {"cell": "rnn", "nonlinearity": "relu", "num_layers": 2, "bidirectional": True, "pooling": "mean",
     "init_state": "learned"},
    {"cell": "gru", "num_layers": 3, "bidirectional": True, "pooling": "attention"},
    # The readable gate-by-gate loop exports through the fused kernels (same parameters, same numbers).
    {"cell": "lstm", "bidirectional": True, "pooling": "max", "implementation": "explicit"},
]
CNN_CASES = [{"pooling": "max", "filter_sizes": (2, 3, 5)}, {"pooling": "mean", "filter_sizes": (3, 4, 5)}]


def padded_batch(lengths: list[int], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random real tokens (never the pad id) right-padded with PAD: ids (B, T), lengths (B,)."""
    generator = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths)
    ids = torch.randint(1, VOCAB, (len(lengths), max(lengths)), generator=generator)
    ids[torch.arange(max(lengths)) >= lengths_t.unsqueeze(1)] = PAD
    return ids, lengths_t


def assert_parity(model: torch.nn.Module, tmp_path: Path) -> None:
    model.eval()
    session = onnx_session(export_onnx(model, tmp_path / "model.onnx", VOCAB, PAD))
    for seed, (batch, lengths) in enumerate(BATCHES):
        assert len(lengths) == batch
        ids, lengths_t = padded_batch(lengths, seed)
        with torch.inference_mode():
            expected = model(ids, lengths_t).softmax(dim=-1)  # (B, C)
        got = run_session(session, ids, lengths_t)
        assert got.dtype == torch.float32 and got.shape == (batch, CLASSES)
        assert (got - expected).abs().max().item() <= PARITY_TOLERANCE, (batch, lengths)
        # The graph itself is exact for variable lengths: each text alone gives its row of the padded batch.
        for row in (0, batch - 1):
            alone = run_session(session, ids[row : row + 1, : lengths[row]], lengths_t[row : row + 1])
            assert (alone - got[row]).abs().max().item() <= PARITY_TOLERANCE
    # The probabilities are not all uniform: the test compares something.
    assert (expected - 1 / CLASSES).abs().max() > 1e-3


@pytest.mark.parametrize("case", RNN_CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_text_rnn_exports_with_parity(case, tmp_path):
    torch.manual_seed(0)
    model = TextRNN(VOCAB, CLASSES, PAD, embedding_dim=8, hidden_size=12, **case)
    if model.encoder.h0 is not None:
        with torch.no_grad():
            model.encoder.h0.normal_(0.0, 0.5)
    assert_parity(model, tmp_path)


@pytest.mark.parametrize("case", CNN_CASES, ids=lambda c: c["pooling"])
def test_text_cnn_exports_with_parity(case, tmp_path):
    torch.manual_seed(0)
    assert_parity(TextCNN(VOCAB, CLASSES, PAD, embedding_dim=8, num_filters=6, **case), tmp_path)


# ---- from a trained checkpoint, through the command line ---------------------------------------------------

TEXTS = ["The striker scored a late goal in the cup final.", "The chef baked fresh bread with garlic.",
         "The software startup released a new chip.", "", "goal " * 300]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, tiny_en_csv) -> Path:
    root = tmp_path_factory.mktemp("fit")
    fit = run_cli(tiny_fit_args(root, tiny_en_csv, "--model.init_args.pooling", "attention",
                                 "--data.init_args.max_length", "48", epochs=2))
    return Path(fit.trainer.checkpoint_callback.best_model_path)


@pytest.fixture(scope="module")
def exported(ckpt, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("export") / "bilstm"
    textrnn_main(["export", "--ckpt_path", str(ckpt), "--output", str(folder)])
    return folder


def test_export_writes_the_folder_and_load_predicts_like_the_checkpoint(ckpt, exported):
    assert sorted(p.name for p in exported.iterdir()) == ["labels.json", "model.json", "model.onnx", "tokenizer.json"]
    torch_clf, onnx_clf = textrnn.load(ckpt, device="cpu"), textrnn.load(exported)
    labels = json.loads((exported / "labels.json").read_text())
    assert labels == torch_clf.label_names == onnx_clf.label_names == ["food", "sports", "tech"]
    card = json.loads((exported / "model.json").read_text())
    assert card["model_class"] == "textrnn.models.text_rnn.TextRNN" and card["pad_id"] == torch_clf.pad_id
    assert card["max_length"] == 48 and card["num_classes"] == 3 and card["textrnn_version"] == textrnn.__version__
    assert card["hyper_parameters"]["pooling"] == "attention" and card["export_parity"] <= PARITY_TOLERANCE
    assert type(onnx_clf).__name__ == "OnnxClassifier" and "TextRNN" in repr(onnx_clf)

    want, got = torch_clf.predict(TEXTS, batch_size=2), onnx_clf.predict(TEXTS, batch_size=2)
    assert [p.label for p in got] == [p.label for p in want]
    for p, q in zip(got, want):
        assert type(p) is type(q) and list(p.probs) == list(q.probs)
        assert max(abs(p.probs[k] - q.probs[k]) for k in p.probs) <= PARITY_TOLERANCE
        assert p.confidence == max(p.probs.values())


def test_classify_runs_the_exported_folder(ckpt, exported, capsys):
    text = TEXTS[0]
    expected = textrnn.load(ckpt, device="cpu").predict(text)[0]
    textrnn_main(["classify", "--ckpt_path", str(exported), "--text", text])
    out = capsys.readouterr().out
    assert out.startswith(f"{expected.label} ({expected.confidence:.3f})")


def test_export_refuses_bad_paths_in_one_line(ckpt, exported, tmp_path, capsys):
    for args, words in [
        (["--ckpt_path", str(tmp_path / "nope.ckpt"), "--output", str(tmp_path / "x")], "no checkpoint at"),
        (["--ckpt_path", str(exported), "--output", str(tmp_path / "x")], "is a folder"),
        (["--ckpt_path", str(ckpt), "--output", str(exported / "labels.json")], "is a file"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            textrnn_main(["export", *args])
        err = capsys.readouterr().err.strip()
        assert exit_.value.code == 2 and words in err and len(err.splitlines()) == 1, err


def test_load_refuses_a_broken_folder(exported, tmp_path):
    with pytest.raises(CheckpointError, match=r"lacks \['model.onnx', 'tokenizer.json'"):
        textrnn.load(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("model.onnx", "tokenizer.json", "model.json"):
        (broken / name).write_bytes((exported / name).read_bytes())
    (broken / "labels.json").write_text('["a", "b"]')
    with pytest.raises(CheckpointError, match=r"2 class names in labels.json for a model of 3 classes"):
        textrnn.load(broken)
    (broken / "labels.json").write_text('["a", "b", "c"]')
    (broken / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="not a model ONNX Runtime can load"):
        textrnn.load(broken)


def test_without_the_extra_export_and_classify_say_how_to_install_and_the_core_works(ckpt, exported, tmp_path, monkeypatch, capsys):
    for name in ("onnx", "onnxruntime"):
        monkeypatch.setitem(sys.modules, name, None)  # `import onnx` now raises ImportError
    with pytest.raises(SystemExit) as exit_:
        textrnn_main(["export", "--ckpt_path", str(ckpt), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1
    assert 'pip install "textrnn[onnx]"' in err and not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):
        textrnn_main(["classify", "--ckpt_path", str(exported), "--text", "goal"])
    assert 'pip install "textrnn[onnx]"' in capsys.readouterr().err
    # The core needs neither: a checkpoint still loads and classifies (any `import onnx` would raise here).
    assert textrnn.load(ckpt, device="cpu").predict(TEXTS[0])[0].label in ("food", "sports", "tech")


def test_export_speed_benchmark_smoke(monkeypatch, capsys):
    script = REPO / "benchmarks" / "export_speed.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--vocab", "50", "--min-length", "5", "--max-length", "20",
                                      "--texts", "16", "--rounds", "1", "--hidden", "8", "--embedding", "8",
                                      "--filters", "4", "--threads", "1"])
    runpy.run_path(str(script), run_name="__main__")
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [dict(re.findall(r"(\w+)=(\S+)", line)) for line in lines if line.startswith("model=")]
    assert [(r["model"], r["batch"]) for r in rows] == [("bilstm", "1"), ("bilstm", "64"), ("textcnn", "1"),
                                                        ("textcnn", "64")]
    assert all(float(r["parity"]) <= PARITY_TOLERANCE and float(r["onnx_texts_s"]) > 0 for r in rows)
    assert re.fullmatch(r"onnx_speedup_b1=\d+\.\d{2} onnx_speedup_b64=\d+\.\d{2}", lines[-1])
