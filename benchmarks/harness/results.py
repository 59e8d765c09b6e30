"""The comparison's records and tables: the contestants (`MODELS`: the Text-RNNs, the Text-CNN, the BiLSTM
and Text-CNN also started from GloVe vectors, and TF-IDF), the training `Budget`, one run's
`RunResult` (its ``result.json``), and the per-model summary written as ``runs.csv``, ``summary.csv`` and
``summary.md``. Training lives in `benchmarks.harness.runs`, reading runs back in `benchmarks.harness.readback`.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional, Union

from textrnn.cli.configs import CONFIG_DIR as SHIPPED_CONFIGS
from textrnn.files import write_json, write_rows

REPO = Path(__file__).resolve().parents[2]  # the clone this harness lives in
CONFIG_DIR = SHIPPED_CONFIGS  # the configs `textrnn fit --config NAME` uses
DEFAULT_OUT = REPO / "runs" / "compare"
DEFAULT_SEEDS = (42, 43, 44)
SPLIT_CONFIG = "textrnn_bilstm.yaml"  # whose data section builds the split the TF-IDF baseline uses
TFIDF = "tfidf_svm"
RESULT_FILE = "result.json"


@dataclass(frozen=True)
class ModelSpec:
    """One contestant: its display name and its config file in ``configs/`` (None for TF-IDF).

    To add a model, add its config to ``configs/`` and one line to `MODELS`."""

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
        write_json(asdict(self), self.path / RESULT_FILE)

    @classmethod
    def load(cls, run_dir: Union[str, Path]) -> "RunResult":
        """Read a run's result.json; ``run_dir`` is taken from where it lies, so folders may move."""
        run_dir = Path(run_dir)
        data = json.loads((run_dir / RESULT_FILE).read_text())
        known = {f.name for f in fields(cls)}
        result = cls(**{k: v for k, v in data.items() if k in known})
        result.run_dir = str(run_dir)
        return result


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


def write_tables(results: Sequence[RunResult], out: Union[str, Path]) -> None:
    """runs.csv (per run), summary.csv (per model) and summary.md into ``out``."""
    out = Path(out)
    write_rows([asdict(r) for r in results], out / "runs.csv", RUN_COLUMNS, overwrite=True)
    summary = summarize(results)
    write_rows(summary, out / "summary.csv", list(summary[0]) if summary else ["model"], overwrite=True)
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
