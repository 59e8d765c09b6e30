"""Pretrain then fine-tune, through the CLI as users run it: the language model trains, logs perplexity and
generates; `TextRNN --model.init_args.pretrained` starts from exactly its embedding and encoder with its
vocabulary; every mismatch is one clear error; `textrnn.load` refuses a language model by name."""

from pathlib import Path

import pytest
import torch

import textrnn
from textrnn.cli.app import run_cli
from textrnn.cli.generate import detokenize, generate_text
from textrnn.cli.generate import main as generate_main

SIZES = ["--model.init_args.embedding_dim", "16", "--model.init_args.hidden_size", "12"]


def data_args(csv: str, max_length: str = "64") -> list[str]:
    return ["--data.init_args.dataset", "csv", "--data.init_args.data_files", csv,
            "--data.init_args.max_length", max_length, "--data.init_args.batch_size", "8"]


def trainer_args(root: Path, epochs: str = "2") -> list[str]:
    return ["--trainer.max_epochs", epochs, "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--trainer.logger.init_args.save_dir", str(root)]


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory, tiny_en_csv):
    root = tmp_path_factory.mktemp("lm")
    cli = run_cli(["fit", "--config", "lm_bilstm", *SIZES, "--model.init_args.num_layers", "2",
                   *data_args(tiny_en_csv, "1000"), "--data.init_args.min_frequency", "1",
                   "--data.init_args.bptt", "16", *trainer_args(root, "3")])
    return root, cli


def test_language_model_trains_and_logs_perplexity(lm_run):
    import csv

    root, cli = lm_run
    metrics = cli.trainer.callback_metrics  # after fit: the test of the best checkpoint
    assert float(metrics["test/ppl"]) == pytest.approx(float(torch.exp(metrics["test/loss"])), rel=1e-5)
    rows = list(csv.DictReader(open(next(root.glob("lm_bilstm/version_*/metrics.csv")))))
    val = [float(r["val/ppl"]) for r in rows if r.get("val/ppl")]
    train = [float(r["train/ppl"]) for r in rows if r.get("train/ppl")]
    assert len(val) == 3 and len(train) == 3
    assert train[-1] < train[0] and val[-1] < cli.datamodule.vocab_size  # it learned beyond uniform guessing
    last = list(root.glob("lm_bilstm/version_*/checkpoints/last.ckpt"))
    assert len(last) == 1
    saved = torch.load(last[0], weights_only=True)
    assert saved["textrnn"]["model_class"].endswith("LanguageModel") and saved["textrnn"]["task"] == "language_model" and "num_classes" not in saved["hyper_parameters"]


def test_fine_tuning_starts_from_the_language_model(lm_run, tiny_en_csv, tmp_path):
    root, lm_cli = lm_run
    lm_weights = {k: v.clone() for k, v in lm_cli.model.state_dict().items()}
    seen = {}

    from lightning.pytorch import Callback

    class Snapshot(Callback):  # the weights the first training step starts from
        def on_train_start(self, trainer, module):
            seen.update({k: v.clone() for k, v in module.state_dict().items()})

    import textrnn.models.text_rnn as text_rnn

    original = text_rnn.TextRNN.on_fit_start
    cli = None
    try:
        text_rnn.TextRNN.on_train_start = lambda self: Snapshot().on_train_start(self.trainer, self)
        cli = run_cli(["fit", "--config", "textrnn_bilstm_pretrained", *SIZES, "--model.init_args.num_layers", "2",
                       "--model.init_args.independent_directions", "true", "--model.init_args.gradual_unfreezing", "true",
                       "--model.init_args.pretrained", str(root / "lm_bilstm"), *data_args(tiny_en_csv),
                       "--data.init_args.min_frequency", "1", *trainer_args(tmp_path, "3")])
    finally:
        del text_rnn.TextRNN.on_train_start
        assert text_rnn.TextRNN.on_fit_start is original
    # The vocabulary is the language model's (the CLI set tokenizer_from), and so are the starting weights.
    assert cli.datamodule.hparams.tokenizer_from == str(root / "lm_bilstm")
    lm_last = torch.load(next(root.glob("lm_bilstm/version_*/checkpoints/last.ckpt")), weights_only=True)["state_dict"]
    shared = [k for k in seen if k.startswith(("embedding.", "encoder."))]
    assert shared and all(torch.equal(seen[k], lm_last[k]) for k in shared)
    assert len(shared) == len([k for k in lm_weights if k.startswith(("embedding.", "encoder."))])
    # All groups train by the last epoch (3 epochs, 4 groups: the embedding stays frozen until epoch 3)
    assert not cli.model.embedding.weight.requires_grad
    assert all(p.requires_grad for p in cli.model.encoder.parameters())
    assert "test/acc" in cli.trainer.callback_metrics
    # The fine-tuned checkpoint alone classifies: the language model file is not needed any more.
    best = cli.trainer.checkpoint_callback.best_model_path
    predictions = textrnn.load(best).predict(["The striker scored a late goal."])
    assert predictions[0].label in {"sports", "tech", "food"}


@pytest.mark.parametrize(("args", "message"), [
    (["--model.init_args.hidden_size", "10"], "hidden_size: 12 there, 10 here"),
    (["--model.init_args.cell", "gru"], "cell: 'lstm' there, 'gru' here"),
    (["--model.init_args.independent_directions", "false"], "set independent_directions: true"),
])
def test_a_mismatched_classifier_is_one_clear_error(lm_run, tiny_en_csv, tmp_path, capsys, args, message):
    from textrnn.cli.app import main

    root, _ = lm_run
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", "textrnn_bilstm_pretrained", *SIZES, "--model.init_args.num_layers", "2",
              "--model.init_args.independent_directions", "true", *args,
              "--model.init_args.pretrained", str(root / "lm_bilstm"), *data_args(tiny_en_csv),
              "--data.init_args.min_frequency", "1", *trainer_args(tmp_path, "1")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert message in err and "does not fit this TextRNN" in err


def test_another_vocabulary_is_refused(lm_run, tiny_en_csv, tmp_path):
    from textrnn.data import TextDataModule
    from textrnn.inference.checkpoints import CheckpointError
    from textrnn.models import TextRNN
    from textrnn.models.pretrained import load_pretrained_encoder

    root, _ = lm_run
    other = TextDataModule(dataset="csv", data_files=tiny_en_csv, max_vocab_size=40, cache_dir=str(tmp_path))
    model = TextRNN(vocab_size=other.vocab_size, num_classes=3, embedding_dim=16, hidden_size=12, num_layers=2,
                    independent_directions=True)
    with pytest.raises(CheckpointError, match="is not the language model's.*tokenizer_from"):
        load_pretrained_encoder(model, str(root / "lm_bilstm"), other.tokenizer)
    with pytest.raises(FileNotFoundError, match="train the language model first"):
        load_pretrained_encoder(model, str(tmp_path / "nothing"), other.tokenizer)


def test_textrnn_load_refuses_a_language_model(lm_run):
    root, _ = lm_run
    with pytest.raises(textrnn.CheckpointError, match="a LanguageModel is not a TextClassifier"):
        textrnn.load(next(root.glob("lm_bilstm/version_*/checkpoints/last.ckpt")))


def test_generate_continues_the_prompt_and_is_seeded(lm_run, capsys):
    root, _ = lm_run
    first = generate_text(str(root / "lm_bilstm"), "The striker", tokens=8, seed=1)
    assert first.startswith("the striker ") and len(first.split()) >= 8
    assert generate_text(str(root / "lm_bilstm"), "The striker", tokens=8, seed=1) == first
    assert generate_main(["--ckpt_path", str(root / "lm_bilstm"), "--prompt", "\x1b[31mred", "--tokens", "3"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out  # escaped, like every printed text
    assert generate_main(["--ckpt_path", str(root / "lm_bilstm"), "--tokens", "-1"]) == 2
    assert "--tokens must be from 0" in capsys.readouterr().err


def test_detokenize_joins_punctuation():
    assert detokenize(["shares", "fell", "5", "%", ",", "it", "said", "."]) == "shares fell 5%, it said."
    assert detokenize(["the", "country", "'", "s", "uk", "-", "based", "firm", "paid", "3", ",", "000"]) == \
        "the country's uk-based firm paid 3,000"
    assert detokenize(["a", "b"], "char") == "ab"


def test_a_language_model_can_start_from_word_vectors(tiny_en_csv, tiny_datamodule, tmp_path):
    """General-domain vectors under an in-domain LM: `embeddings` reads them at the start of the fit (frozen
    here, so they must come out unchanged) and the LM's checkpoint carries them to fine-tuning."""
    import numpy as np

    vocab = tiny_datamodule(min_frequency=1).tokenizer.get_vocab()
    words = sorted(w for w in vocab if not w.startswith("["))[::2]
    rng = np.random.default_rng(0)
    vectors = {w: np.round(rng.uniform(-1, 1, 16), 4).astype(np.float32) for w in words}
    path = tmp_path / "vectors.txt"
    path.write_text("".join(w + " " + " ".join(f"{x:.4f}" for x in v) + "\n" for w, v in vectors.items()))
    cli = run_cli(["fit", "--config", "lm_bilstm", *SIZES, "--model.init_args.embeddings", str(path),
                   "--model.init_args.freeze_embeddings", "true", *data_args(tiny_en_csv, "1000"),
                   "--data.init_args.min_frequency", "1", "--data.init_args.bptt", "16",
                   *trainer_args(tmp_path / "lm", "1")])
    assert cli.model.vectors_coverage.words_found == len(words)
    rows = torch.tensor([vocab[w] for w in words])
    expected = torch.from_numpy(np.stack(list(vectors.values())))
    torch.testing.assert_close(cli.model.embedding.weight.detach()[rows], expected, rtol=0, atol=0)

    # The checkpoint a classifier fine-tunes from holds them (test_fine_tuning_starts_from_the_language_model:
    # the classifier starts from exactly the checkpoint's embedding).
    last = torch.load(next((tmp_path / "lm").glob("lm_bilstm/version_*/checkpoints/last.ckpt")), weights_only=True)
    torch.testing.assert_close(last["state_dict"]["embedding.weight"][rows], expected, rtol=0, atol=0)
    assert last["hyper_parameters"]["embeddings"] == str(path)
