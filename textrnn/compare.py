"""Compare Text-RNN (BiLSTM, BiGRU, vanilla BiRNN), Text-CNN (the BiLSTM and Text-CNN also started from
GloVe vectors) and a TF-IDF + LinearSVC baseline on one split, over several seeds, and read the runs back
for plots.

Every model sees the same data: the split comes from the datamodule's own ``seed`` (42 in every
config) and is never changed here. The TF-IDF baseline trains on the same train split and is
evaluated on the same test split (it ignores the validation split, which only the neural models use
to pick their best checkpoint); each neural run checks that its test texts are exactly the TF-IDF's.

The neural models train through the same code path as the command line, ``textrnn.cli.run_cli`` on
the shipped config with ``--seed_everything <seed>`` and the run directory set, so a run's numbers are
those of ``textrnn fit --config configs/<model>.yaml --seed_everything <seed>``. The comparison seed
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
    summary.md            the same as a Markdown table, ready to paste into the README

``result.json`` is written last, when a run is complete. A rerun reuses every run whose result.json
matches the current settings (the config file's contents and the training budget) and trains the
rest, so an interrupted comparison resumes where it stopped.

Command line: ``python benchmarks/compare.py --help``. Notebook: ``notebooks/compare_models.ipynb``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import shutil
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional, Union

import lightning.pytorch as pl
import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "configs"
DEFAULT_OUT = REPO / "runs" / "compare"
DEFAULT_SEEDS = (42, 43, 44)
SPLIT_CONFIG = "textrnn_bilstm.yaml"  # whose data section builds the split the TF-IDF baseline uses
TFIDF = "tfidf_svm"
RESULT_FILE = "result.json"


@dataclass(frozen=True)
class ModelSpec:
    """One contestant: its display name and its config file in ``configs/`` (None for TF-IDF)."""

    label: str
    config: Optional[str]


MODELS: dict[str, ModelSpec] = {
    "textrnn_bilstm": ModelSpec("Text-RNN, BiLSTM", "textrnn_bilstm.yaml"),
    "textrnn_bilstm_glove": ModelSpec("Text-RNN, BiLSTM, GloVe 50d", "textrnn_bilstm_glove.yaml"),
    "textrnn_gru": ModelSpec("Text-RNN, BiGRU", "textrnn_gru.yaml"),
    "textrnn_rnn": ModelSpec("Text-RNN, vanilla BiRNN", "textrnn_rnn.yaml"),
    "textcnn": ModelSpec("Text-CNN", "textcnn.yaml"),
    "textcnn_glove": ModelSpec("Text-CNN, GloVe 50d", "textcnn_glove.yaml"),
    TFIDF: ModelSpec("TF-IDF + LinearSVC", None),
}
NEURAL = tuple(name for name, spec in MODELS.items() if spec.config)


# ---- settings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """Trainer limits for quick checks; None keeps the config's value (the full run)."""

    max_epochs: Optional[int] = None
    limit_train_batches: Optional[Union[int, float]] = None
    limit_val_batches: Optional[Union[int, float]] = None

    def trainer_args(self) -> list[str]:
        """The CLI overrides, e.g. ``["--trainer.max_epochs", "1"]``."""
        return [arg for name, value in asdict(self).items() if value is not None
                for arg in (f"--trainer.{name}", str(value))]

    def describe(self) -> str:
        limits = {name: value for name, value in asdict(self).items() if value is not None}
        return ", ".join(f"{name}={value}" for name, value in limits.items()) or "full (the configs' own)"


TINY_BUDGET = Budget(max_epochs=2, limit_train_batches=1, limit_val_batches=1)  # the notebooks' quick mode


# ---- one run -----------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """The record of one model trained with one seed (``result.json`` in its run directory)."""

    model: str
    label: str
    seed: int
    accuracy: float
    f1_macro: float
    params: int
    train_s: float
    infer_texts_per_s: float
    test_texts: int
    threads: int
    run_dir: str
    checkpoint: Optional[str] = None  # the best checkpoint, relative to run_dir; None for TF-IDF
    epochs: Optional[int] = None
    settings: dict[str, Any] = field(default_factory=dict)  # what a rerun must match to reuse this run

    @property
    def path(self) -> Path:
        return Path(self.run_dir)

    @property
    def checkpoint_path(self) -> Optional[Path]:
        return self.path / self.checkpoint if self.checkpoint else None

    def save(self) -> None:
        """Write result.json atomically: it is the mark of a finished run."""
        target = self.path / RESULT_FILE
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(target)

    @classmethod
    def load(cls, run_dir: Union[str, Path]) -> "RunResult":
        """Read a run's result.json; ``run_dir`` is taken from where it lies, so folders may move."""
        run_dir = Path(run_dir)
        data = json.loads((run_dir / RESULT_FILE).read_text())
        known = {f.name for f in fields(cls)}
        result = cls(**{k: v for k, v in data.items() if k in known})
        result.run_dir = str(run_dir)
        return result


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
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "tokens", "true_label", "predicted_label", "confidence"])
        for i, (label, guess) in enumerate(zip(truth, predicted)):
            writer.writerow([i, tokens[i], names[label], names[guess], f"{probs[i, guess]:.6f}"])


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
    (run_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
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
            "--trainer.callbacks+=textrnn.compare.FitTimer",
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


def load_results(out: Union[str, Path] = DEFAULT_OUT) -> list[RunResult]:
    """Every finished run under ``out``, in `MODELS` order then by seed."""
    order = {name: i for i, name in enumerate(MODELS)}
    results = [RunResult.load(path.parent) for path in Path(out).glob(f"*/seed*/{RESULT_FILE}")]
    return sorted(results, key=lambda r: (order.get(r.model, len(order)), r.model, r.seed))


# ---- tables ------------------------------------------------------------------------------------------

RUN_COLUMNS = ["model", "label", "seed", "accuracy", "f1_macro", "params", "train_s", "infer_texts_per_s",
               "test_texts", "threads", "epochs", "run_dir", "checkpoint"]


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN with a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else math.nan


def summarize(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    """One row per model (in the order first seen): mean and standard deviation over its seeds."""
    by_model: dict[str, list[RunResult]] = {}
    for result in results:
        by_model.setdefault(result.model, []).append(result)
    rows = []
    for name, runs in by_model.items():
        acc_mean, acc_std = _mean_std([r.accuracy for r in runs])
        f1_mean, f1_std = _mean_std([r.f1_macro for r in runs])
        rows.append({
            "model": name, "label": runs[0].label, "seeds": " ".join(str(r.seed) for r in runs),
            "accuracy_mean": acc_mean, "accuracy_std": acc_std, "f1_macro_mean": f1_mean, "f1_macro_std": f1_std,
            "params": runs[0].params, "train_s_mean": statistics.fmean(r.train_s for r in runs),
            "infer_texts_per_s_mean": statistics.fmean(r.infer_texts_per_s for r in runs),
        })
    return rows


def _pm(mean: float, std: float, scale: float, digits: int, unit: str = "") -> str:
    text = f"{mean * scale:.{digits}f}"
    return text + unit if math.isnan(std) else f"{text} ± {std * scale:.{digits}f}{unit}"


def markdown_table(summary: Sequence[dict[str, Any]]) -> str:
    """The summary as a Markdown table: accuracy in %, macro-F1, parameters, train seconds, texts/s."""
    lines = ["| model | test accuracy | test macro-F1 | parameters | train s | inference texts/s |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in summary:
        lines.append(
            f"| {row['label']} | {_pm(row['accuracy_mean'], row['accuracy_std'], 100, 2, '%')} "
            f"| {_pm(row['f1_macro_mean'], row['f1_macro_std'], 1, 3)} | {row['params']:,} "
            f"| {row['train_s_mean']:.0f} | {row['infer_texts_per_s_mean']:,.0f} |"
        )
    return "\n".join(lines)


def markdown_report(results: Sequence[RunResult]) -> str:
    """summary.md: the table and a note saying what its numbers are (seeds, budget, threads)."""
    if not results:
        return ""
    seeds = sorted({r.seed for r in results})
    runs = (f"Mean ± sample standard deviation over seeds {', '.join(map(str, seeds))} (one run per seed"
            if len(seeds) > 1 else f"One run per model (seed {seeds[0]}")
    tests = "/".join(str(n) for n in sorted({r.test_texts for r in results}))
    threads = "/".join(str(n) for n in sorted({r.threads for r in results if r.model != TFIDF})) or "-"
    budgets = "; ".join(sorted({Budget(**r.settings["budget"]).describe() for r in results if "budget" in r.settings}))
    note = (
        f"{runs}; the seed changes initialisation and dropout, the split stays fixed); test split of {tests} "
        f"texts. Training budget: {budgets or '-'}. *parameters*: every weight (TF-IDF: the SVM's, one per "
        "n-gram and class). *train s*: `trainer.fit` only, training and validation (TF-IDF: fitting the "
        "vectorizer and the SVM). *inference texts/s*: the best checkpoint through `textrnn.load(...).predict` "
        f"over the test texts on the CPU, {threads} torch thread(s), fastest of the timed passes (TF-IDF: "
        "the pipeline's `predict`). Produced by `python benchmarks/compare.py`."
    )
    return markdown_table(summarize(results)) + "\n\n" + note + "\n"


def _write_rows(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_tables(results: Sequence[RunResult], out: Union[str, Path]) -> None:
    """runs.csv (per run), summary.csv (per model) and summary.md into ``out``."""
    out = Path(out)
    _write_rows(out / "runs.csv", [asdict(r) for r in results], RUN_COLUMNS)
    summary = summarize(results)
    _write_rows(out / "summary.csv", summary, list(summary[0]) if summary else ["model"])
    (out / "summary.md").write_text(markdown_report(results))


def markdown(rows: Sequence[dict[str, Any]], digits: int = 3) -> str:
    """Any list of dicts as a Markdown table (floats rounded), for notebooks."""
    if not rows:
        return ""
    columns = list(rows[0])

    def cell(value: Any) -> str:
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


# ---- reading runs back: learning curves, confusion matrices, accuracy by length, predictions ---------


def learning_curve(run_dir: Union[str, Path], metric: str = "val/acc") -> tuple[list[int], list[float]]:
    """(epochs, values) of a validation metric from the run's metrics.csv (CSVLogger); the last
    value logged in each epoch. Empty for runs without metrics.csv (TF-IDF)."""
    path = Path(run_dir) / "metrics.csv"
    if not path.is_file():
        return [], []
    by_epoch: dict[int, float] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get(metric):
                by_epoch[int(row["epoch"])] = float(row[metric])
    epochs = sorted(by_epoch)
    return epochs, [by_epoch[e] for e in epochs]


def confusion_matrix(run_dir: Union[str, Path]) -> tuple[list[str], np.ndarray]:
    """(class names, (C, C) counts; rows true, columns predicted) from the run's confusion_matrix.csv."""
    with (Path(run_dir) / "confusion_matrix.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    names = rows[0][1:]
    return names, np.array([[int(x) for x in row[1:]] for row in rows[1:]])


def read_predictions(run_dir: Union[str, Path]) -> list[dict[str, Any]]:
    """The run's predictions.csv: one dict per test text (index, tokens, true_label, predicted_label, confidence)."""
    with (Path(run_dir) / "predictions.csv").open(newline="") as handle:
        return [{**row, "index": int(row["index"]), "tokens": int(row["tokens"]),
                 "confidence": float(row["confidence"])} for row in csv.DictReader(handle)]


def length_bins(tokens: Sequence[int], bins: int = 4) -> np.ndarray:
    """Bin edges at the quantiles of the token counts, so each bin holds about as many texts."""
    edges = np.unique(np.quantile(np.asarray(tokens), np.linspace(0, 1, bins + 1)).round().astype(int))
    edges[-1] += 1  # the longest text falls inside the last bin
    return edges


def accuracy_by_length(results: Sequence[RunResult], bins: int = 4) -> list[dict[str, Any]]:
    """Test accuracy per bin of document length (tokens before truncation), per model, averaged over seeds.

    Returns one row per bin: ``tokens`` (the range), ``texts`` (how many), then one column per model label.
    """
    if not results:
        return []
    per_run = {id(r): read_predictions(r.path) for r in results}
    tokens = np.array([p["tokens"] for p in per_run[id(results[0])]])
    edges = length_bins(tokens, bins)
    which = np.searchsorted(edges, tokens, side="right") - 1  # bin of each test text
    rows = [{"tokens": f"{edges[b]}-{edges[b + 1] - 1}", "texts": int((which == b).sum())}
            for b in range(len(edges) - 1)]
    for label in dict.fromkeys(r.label for r in results):
        runs = [r for r in results if r.label == label]
        correct = np.mean([[p["true_label"] == p["predicted_label"] for p in per_run[id(r)]] for r in runs], axis=0)
        for b, row in enumerate(rows):
            row[label] = float(correct[which == b].mean())
    return rows


def predict_texts(
    results: Sequence[RunResult], texts: Sequence[str], seed: Optional[int] = None
) -> list[dict[str, Any]]:
    """Each neural model's label (and confidence) for new texts, from its saved checkpoint via `textrnn.load`.

    Args:
        results: runs to use; TF-IDF runs (no checkpoint) are skipped.
        texts: any raw texts.
        seed: which seed's checkpoint to use (default: each model's first run).
    """
    import textrnn

    rows = [{"text": text if len(text) <= 70 else text[:69] + "…"} for text in texts]
    seen = set()
    for result in results:
        if result.checkpoint is None or result.model in seen or (seed is not None and result.seed != seed):
            continue
        seen.add(result.model)
        for row, p in zip(rows, textrnn.load(result.checkpoint_path, device="cpu").predict(list(texts))):
            row[result.label] = f"{p.label} ({p.confidence:.2f})"
    return rows


# ---- plots -------------------------------------------------------------------------------------------


def _first_per_model(results: Sequence[RunResult], seed: Optional[int]) -> list[RunResult]:
    chosen: dict[str, RunResult] = {}
    for r in results:
        if (seed is None or r.seed == seed) and r.model not in chosen:
            chosen[r.model] = r
    return list(chosen.values())


def plot_learning_curves(results: Sequence[RunResult], metric: str = "val/acc"):
    """Validation accuracy per epoch: one colour per model, one line per seed."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7.5, 4))
    colours: dict[str, str] = {}
    for r in results:
        epochs, values = learning_curve(r.path, metric)
        if not epochs:
            continue
        label = None if r.model in colours else r.label  # one legend entry per model
        colour = colours.setdefault(r.model, f"C{len(colours)}")
        ax.plot([e + 1 for e in epochs], values, marker="o", markersize=3, color=colour, alpha=0.8, label=label)
    ax.set(xlabel="epoch", ylabel=metric, title=f"Learning curves ({metric}; one line per seed)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def plot_confusion_matrices(results: Sequence[RunResult], seed: Optional[int] = None):
    """The test confusion matrix of every model, side by side (each model's first seed by default)."""
    import matplotlib.pyplot as plt

    runs = _first_per_model(results, seed)
    fig, axes = plt.subplots(1, len(runs), figsize=(3.3 * len(runs), 3.6), squeeze=False)
    for ax, r in zip(axes[0], runs):
        names, matrix = confusion_matrix(r.path)
        ax.imshow(matrix, cmap="Blues")
        short = [n[:5] for n in names]
        ax.set_xticks(range(len(names)), labels=short, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), labels=short if ax is axes[0][0] else [], fontsize=8)
        for (i, j), count in np.ndenumerate(matrix):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="white" if count > matrix.max() / 2 else "black")
        ax.set_title(f"{r.label}\nseed {r.seed}, acc {r.accuracy:.1%}", fontsize=9)
        ax.set_xlabel("predicted", fontsize=8)
    axes[0][0].set_ylabel("true", fontsize=8)
    fig.tight_layout()
    return fig


def plot_accuracy_by_length(rows: Sequence[dict[str, Any]]):
    """Accuracy per length bin (the rows of `accuracy_by_length`), one line per model."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4))
    ticks = [f"{row['tokens']}\n({row['texts']} texts)" for row in rows]
    for label in [k for k in rows[0] if k not in ("tokens", "texts")]:
        ax.plot(range(len(rows)), [row[label] for row in rows], marker="o", label=label)
    ax.set_xticks(range(len(rows)), labels=ticks, fontsize=8)
    ax.set(xlabel="document length in tokens (test split, before truncation)", ylabel="test accuracy",
           title="Accuracy by document length")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig
