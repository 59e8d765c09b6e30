"""Train the comparison: Text-RNN (BiLSTM, BiGRU, vanilla BiRNN), Text-CNN and a TF-IDF + LinearSVC
baseline on one split, over several seeds.

Every model sees the same data: the split comes from the datamodule's own ``seed`` (42 in every
config) and is never changed here. The TF-IDF baseline trains on the same train split and is
evaluated on the same test split (it ignores the validation split, which only the neural models use
to pick their best checkpoint); each neural run checks that its test texts are exactly the TF-IDF's.

The neural models train through the same code path as the command line, ``textrnn.cli.run_cli`` on
the shipped config with ``--seed_everything <seed>`` and the run directory set, so a run's numbers are
those of ``textrnn fit --config <model> --seed_everything <seed>``. The comparison seed
changes the model's initialisation and its dropout masks; the batch order is seeded by the datamodule's
``seed``, which stays fixed because it also fixes the split.

Per run it records the test accuracy and macro-F1 (of the best checkpoint on ``val/acc``, as ``fit``
reports them), the parameter count, the training seconds (``trainer.fit`` only: training and
validation, not the final test) and the inference speed on the CPU (``textrnn.load(best
checkpoint).predict`` over the test texts, best of a few timed passes). Layout under ``out``::

    <model>/seed<seed>/   the run directory: config.yaml, metrics.csv, checkpoints/, report.json,
                          confusion_matrix.csv/.png, worst_examples.csv, predictions.csv, result.json
    runs.csv              one row per run
    summary.csv           one row per model: mean and standard deviation over the seeds
    summary.md            the same as a Markdown table, ready to paste into the docs

``result.json`` is written last, when a run is complete. A rerun reuses every run whose result.json
matches the current settings (the config file's contents and the training budget) and trains the
rest, so an interrupted comparison resumes where it stopped.

Command line: ``python benchmarks/compare.py --help``. Notebook: ``notebooks/compare_models.ipynb``.
The records and tables are `benchmarks.harness.results`.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional, Union

import lightning.pytorch as pl
import numpy as np
import torch
import yaml

from textrnn.files import write_json, write_rows

from benchmarks.harness.results import (
    CONFIG_DIR, DEFAULT_OUT, DEFAULT_SEEDS, MODELS, RESULT_FILE, SPLIT_CONFIG, TFIDF, Budget, RunResult, write_tables,
)


class FitTimer(pl.Callback):
    """Seconds spent in ``trainer.fit`` (sanity check, training and validation; not the test after it)."""

    def __init__(self) -> None:
        self.seconds: Optional[float] = None
        self._start = 0.0

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.seconds = time.perf_counter() - self._start


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def split_datamodule(config_dir: Path = CONFIG_DIR):
    """The `TextDataModule` of ``SPLIT_CONFIG``'s data section: the split every model is compared on."""
    from textrnn.data import TextDataModule

    config = yaml.safe_load((Path(config_dir) / SPLIT_CONFIG).read_text())
    return TextDataModule(**config["data"].get("init_args", {}))


def token_counts(data, texts: Sequence[str]) -> list[int]:
    """Tokens per text under the datamodule's tokenizer, before truncation (the models see <= max_length)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(data.tokenizer.to_str())
    tokenizer.no_truncation()
    return [len(encoding.ids) for encoding in tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def _write_predictions(path: Path, truth: Sequence[int], probs: np.ndarray, tokens: Sequence[int],
                       names: Sequence[str]) -> None:
    predicted = probs.argmax(axis=1)
    rows = [{"index": i, "tokens": tokens[i], "true_label": names[label], "predicted_label": names[guess],
             "confidence": f"{probs[i, guess]:.6f}"} for i, (label, guess) in enumerate(zip(truth, predicted))]
    write_rows(rows, path, ["index", "tokens", "true_label", "predicted_label", "confidence"], overwrite=True)


def best_time(function: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """(the fastest of ``repeats`` calls in seconds, the last call's result)."""
    best, value = math.inf, None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - start)
    return best, value


# ---- TF-IDF + LinearSVC ------------------------------------------------------------------------------

TFIDF_SETTINGS = {"ngram_range": [1, 2], "sublinear_tf": True, "min_df": 2, "C": 1.0}


def tfidf_pipeline(seed: int = 0):
    """TF-IDF over word 1-2 grams (sublinear tf, terms in >= 2 documents) into a linear SVM."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    s = TFIDF_SETTINGS
    return make_pipeline(
        TfidfVectorizer(ngram_range=tuple(s["ngram_range"]), sublinear_tf=s["sublinear_tf"], min_df=s["min_df"]),
        LinearSVC(C=s["C"], random_state=seed),
    )


def fit_tfidf(data, seed: int = 0):
    """(the pipeline fitted on ``data``'s train split, fit seconds)."""
    model = tfidf_pipeline(seed)
    start = time.perf_counter()
    model.fit(data.texts("train"), data.labels("train"))
    return model, time.perf_counter() - start


def run_tfidf(data, seed: int, run_dir: Path, tokens: Sequence[int], repeats: int = 3) -> RunResult:
    """Train TF-IDF + LinearSVC on the train split, evaluate on the test split, write its reports."""
    from textrnn.callbacks.report import classification_summary, confusion_counts, plot_confusion, write_confusion_csv

    run_dir.mkdir(parents=True, exist_ok=True)
    model, train_s = fit_tfidf(data, seed)
    texts, truth = data.texts("test"), np.array(data.labels("test"))
    names = data.label_names
    model.predict(texts[:8])  # warm-up
    seconds, predicted = best_time(lambda: model.predict(texts), repeats)
    report = classification_summary(truth, predicted, names)
    write_json(report, run_dir / "report.json")
    matrix = confusion_counts(truth, predicted, len(names))
    write_confusion_csv(matrix, names, run_dir / "confusion_matrix.csv")
    plot_confusion(matrix, names, run_dir / "confusion_matrix.png")
    scores = model.decision_function(texts)  # (N, C); its argmax is the prediction
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)  # a softmax of the margins, for the "confidence" column only
    _write_predictions(run_dir / "predictions.csv", truth, probs, tokens, names)
    svm = model[-1]
    return RunResult(
        model=TFIDF, label=MODELS[TFIDF].label, seed=seed, accuracy=report["accuracy"], f1_macro=report["f1_macro"],
        params=int(svm.coef_.size + svm.intercept_.size), train_s=train_s, infer_texts_per_s=len(texts) / seconds,
        test_texts=len(texts), threads=1, run_dir=str(run_dir),
    )


# ---- neural models -----------------------------------------------------------------------------------


def run_neural(
    name: str,
    seed: int,
    out: Path,
    test_texts: Sequence[str],
    tokens: Sequence[int],
    budget: Budget = Budget(),
    config_dir: Path = CONFIG_DIR,
    repeats: int = 3,
) -> RunResult:
    """``textrnn fit --config <config> --seed_everything <seed>`` into ``out/<name>/seed<seed>``, then
    time ``textrnn.load(best checkpoint).predict`` over the test texts on the CPU."""
    import textrnn
    from textrnn.cli.app import run_cli

    config = Path(config_dir) / MODELS[name].config
    args = ["fit", "--config", str(config), "--seed_everything", str(seed),
            "--trainer.logger.init_args.save_dir", str(out), "--trainer.logger.init_args.name", name,
            "--trainer.logger.init_args.version", f"seed{seed}",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",  # quieter logs
            f"--trainer.callbacks+={FitTimer.__module__}.FitTimer",
            *budget.trainer_args()]
    cli = run_cli(args)
    metrics = cli.trainer.callback_metrics
    if "test/acc" not in metrics:
        raise RuntimeError(f"{name} seed {seed}: fit ended without testing (interrupted?)")
    if cli.datamodule.texts("test") != list(test_texts):
        raise RuntimeError(f"{config} splits the data differently from {SPLIT_CONFIG}; "
                           "the comparison needs every model on the same split")
    run_dir = Path(cli.trainer.log_dir)
    timer = next(c for c in cli.trainer.callbacks if isinstance(c, FitTimer))
    best = Path(cli.trainer.checkpoint_callback.best_model_path)
    params = sum(p.numel() for p in cli.model.parameters())
    epochs = cli.trainer.current_epoch
    names = cli.datamodule.label_names
    truth = cli.datamodule.labels("test")
    del cli

    classifier = textrnn.load(best, device="cpu")
    classifier.predict(list(test_texts[:8]))  # warm-up
    seconds, probs = best_time(lambda: classifier.predict_proba(list(test_texts)), repeats)
    _write_predictions(run_dir / "predictions.csv", truth, probs.numpy(), tokens, names)
    return RunResult(
        model=name, label=MODELS[name].label, seed=seed, accuracy=float(metrics["test/acc"]),
        f1_macro=float(metrics["test/f1_macro"]), params=int(params), train_s=float(timer.seconds),
        infer_texts_per_s=len(test_texts) / seconds, test_texts=len(test_texts), threads=torch.get_num_threads(),
        run_dir=str(run_dir), checkpoint=str(best.relative_to(run_dir)), epochs=int(epochs),
    )


# ---- the comparison ----------------------------------------------------------------------------------


def run_settings(name: str, budget: Budget, config_dir: Path = CONFIG_DIR) -> dict[str, Any]:
    """What a finished run must have been trained with to be reused."""
    split = yaml.safe_load((Path(config_dir) / SPLIT_CONFIG).read_text())["data"]
    if name == TFIDF:
        return {"tfidf": TFIDF_SETTINGS, "data": split}
    return {"config_sha256": file_sha256(Path(config_dir) / MODELS[name].config), "budget": asdict(budget)}


def finished_run(run_dir: Path, settings: dict[str, Any]) -> Optional[RunResult]:
    """The run's result if it finished with these settings, else None."""
    if not (run_dir / RESULT_FILE).is_file():
        return None
    result = RunResult.load(run_dir)
    return result if result.settings == json.loads(json.dumps(settings)) else None


def run_comparison(
    models: Iterable[str] = tuple(MODELS),
    seeds: Iterable[int] = DEFAULT_SEEDS,
    out: Union[str, Path] = DEFAULT_OUT,
    budget: Budget = Budget(),
    config_dir: Union[str, Path] = CONFIG_DIR,
    repeats: int = 3,
    reuse: bool = True,
    log: Callable[[str], None] = print,
) -> list[RunResult]:
    """Train (or reuse) every model with every seed on the same split; write runs.csv, summary.csv and
    summary.md into ``out``; return the results, seed by seed.

    Args:
        models: keys of `MODELS`.
        seeds: one run per model and seed.
        out: the output folder.
        budget: trainer limits for quick checks (default: the configs' full budgets).
        config_dir: where the models' configs live.
        repeats: timed inference passes per run (the fastest counts).
        reuse: keep runs that finished with the same settings (False: retrain everything).
        log: where progress lines go.
    """
    models, seeds, out, config_dir = list(models), list(seeds), Path(out), Path(config_dir)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    out.mkdir(parents=True, exist_ok=True)
    data = split_datamodule(config_dir)
    test_texts = data.texts("test")
    tokens = token_counts(data, test_texts)
    log(f"split: {len(data.texts('train'))} train / {len(data.texts('validation'))} validation / "
        f"{len(test_texts)} test texts; budget: {budget.describe()}; out: {out}")
    results = []
    for seed in seeds:
        for name in models:
            run_dir = out / name / f"seed{seed}"
            settings = run_settings(name, budget, config_dir)
            result = finished_run(run_dir, settings) if reuse else None
            if result is not None:
                log(f"{name} seed {seed}: reused {run_dir}")
            else:
                if run_dir.exists():  # an unfinished or outdated run: start it afresh
                    shutil.rmtree(run_dir)
                log(f"{name} seed {seed}: training ...")
                if name == TFIDF:
                    result = run_tfidf(data, seed, run_dir, tokens, repeats)
                else:
                    result = run_neural(name, seed, out, test_texts, tokens, budget, config_dir, repeats)
                result.settings = settings
                result.save()
            log(f"{name} seed {seed}: accuracy {result.accuracy:.4f}, macro-F1 {result.f1_macro:.4f}, "
                f"train {result.train_s:.1f} s, {result.infer_texts_per_s:.0f} texts/s")
            results.append(result)
            write_tables(results, out)
    return results
