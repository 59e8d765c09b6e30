"""Reading finished comparison runs back for the notebooks: learning curves, confusion matrices,
accuracy by document length, predictions on new texts, and their plots."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from benchmarks.harness.results import RunResult

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
    fig, axes = plt.subplots(1, len(runs), figsize=(3.3 * len(runs), 4.2), squeeze=False)
    for ax, r in zip(axes[0], runs):
        names, matrix = confusion_matrix(r.path)
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(names)), labels=names, rotation=45, ha="right", fontsize=8)  # full class names
        ax.set_yticks(range(len(names)), labels=names if ax is axes[0][0] else [], fontsize=8)
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
