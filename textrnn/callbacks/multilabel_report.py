"""The test report of a multi-label text classifier, written by `ClassificationReport` into the run folder.

The decisions are the model's own: each label's sigmoid probability at or above its stored threshold
(tuned on validation). Files:

- ``report.json``: micro-F1, macro-F1, subset accuracy (every label of a text right), Hamming loss (the
  share of wrong text-label decisions), samples-F1, the thresholds, and per label precision, recall, F1
  and support (scikit-learn's definitions, ``zero_division=0``);
- ``per_label_f1.png``: precision, recall and F1 per label as bars, support in the tick labels;
- ``worst_examples.csv``: the test texts whose predicted label set differs most from the true one (largest
  symmetric difference; ties: the largest total probability error first).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from textrnn.files import LABEL_JOIN, write_rows

WORST_COLUMNS = ["index", "snippet", "true_labels", "predicted_labels", "missed", "extra", "errors", "probs"]


def multilabel_summary(truth: np.ndarray, predicted: np.ndarray, names: Sequence[str],
                       thresholds: Sequence[float] = ()) -> dict[str, Any]:
    """report.json for multi-hot ``truth`` and ``predicted`` (N, L), with scikit-learn's metrics."""
    from sklearn.metrics import accuracy_score, f1_score, hamming_loss, precision_recall_fscore_support

    truth, predicted = np.asarray(truth).astype(int), np.asarray(predicted).astype(int)
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, average=None, zero_division=0,
                                                                     labels=list(range(len(names))))
    micro = precision_recall_fscore_support(truth, predicted, average="micro", zero_division=0)
    macro = precision_recall_fscore_support(truth, predicted, average="macro", zero_division=0)

    def avg(entry: Any) -> dict[str, float]:
        return {"precision": float(entry[0]), "recall": float(entry[1]), "f1": float(entry[2]),
                "support": int(truth.sum())}

    return {
        "multi_label": True,
        "num_examples": int(len(truth)),
        "f1_micro": float(f1_score(truth, predicted, average="micro", zero_division=0)),
        "f1_macro": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        "f1_samples": float(f1_score(truth, predicted, average="samples", zero_division=0)) if len(truth) else 0.0,
        "subset_accuracy": float(accuracy_score(truth, predicted)) if len(truth) else 0.0,
        "accuracy": float(accuracy_score(truth, predicted)) if len(truth) else 0.0,  # = subset accuracy
        "hamming_loss": float(hamming_loss(truth, predicted)) if len(truth) else 0.0,
        "thresholds": {name: float(t) for name, t in zip(names, thresholds)},
        "per_label": {name: {"precision": float(precision[j]), "recall": float(recall[j]), "f1": float(f1[j]),
                             "support": int(support[j])} for j, name in enumerate(names)},
        "micro_avg": avg(micro),
        "macro_avg": avg(macro),
    }


def worst_multilabel(probs: np.ndarray, truth: np.ndarray, predicted: np.ndarray, index: np.ndarray,
                     snippets: Sequence[str], names: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """The ``limit`` texts with the largest symmetric difference between true and predicted label sets
    (ties: the largest sum of |probability - truth| first), only texts with at least one error."""
    truth, predicted = np.asarray(truth).astype(bool), np.asarray(predicted).astype(bool)
    errors = (truth ^ predicted).sum(axis=1)  # (N,)
    distance = np.abs(probs - truth).sum(axis=1)  # (N,)
    order = [i for i in np.lexsort((-distance, -errors)) if errors[i] > 0][:limit]

    def join(mask: np.ndarray) -> str:
        return LABEL_JOIN.join(names[j] for j in np.flatnonzero(mask))

    return [
        {"index": int(index[i]), "snippet": snippets[i], "true_labels": join(truth[i]),
         "predicted_labels": join(predicted[i]), "missed": join(truth[i] & ~predicted[i]),
         "extra": join(predicted[i] & ~truth[i]), "errors": int(errors[i]),
         "probs": " ".join(f"{name}={p:.3f}" for name, p in zip(names, probs[i]))}
        for i in order
    ]


def plot_per_label(summary: dict[str, Any], path: Path) -> None:
    """Grouped bars of precision, recall and F1 per label."""
    import matplotlib
    from matplotlib.figure import Figure

    from textrnn.callbacks.plots import CJK_FONTS
    from matplotlib import font_manager

    per_label = summary["per_label"]
    names = list(per_label)
    installed = {font.name for font in font_manager.fontManager.ttflist}
    families = ["DejaVu Sans", *(name for name in CJK_FONTS if name in installed)]
    with matplotlib.rc_context({"font.family": families}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*Glyph .* missing from font")
        fig = Figure(figsize=(max(5.0, 1.2 + 0.9 * len(names)), 4.0))
        ax = fig.subplots()
        x = np.arange(len(names))
        for k, (metric, color) in enumerate((("precision", "#4c72b0"), ("recall", "#dd8452"), ("f1", "#55a868"))):
            ax.bar(x + (k - 1) * 0.27, [per_label[n][metric] for n in names], 0.27, label=metric, color=color)
        ax.set_xticks(x, labels=[f"{n}\n({per_label[n]['support']})" for n in names],
                      rotation=45 if len(names) > 8 else 0, ha="right" if len(names) > 8 else "center")
        ax.set_ylim(0, 1.05)
        ax.set(ylabel="score", title=f"Per-label scores on {summary['num_examples']} test texts "
                                     f"(micro-F1 {summary['f1_micro']:.3f}); support in brackets")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=110)


def write_multilabel_report(out: Path, probs: np.ndarray, truth: np.ndarray, index: np.ndarray,
                            snippets: Sequence[str], names: Sequence[str], thresholds: Sequence[float],
                            worst: int) -> dict[str, Any]:
    """Write report.json, per_label_f1.png and worst_examples.csv into ``out``; returns the report."""
    from textrnn.files import write_json
    from textrnn.models.multilabel import decide

    predicted = decide(probs, np.asarray(thresholds, dtype=np.float64))
    summary = multilabel_summary(truth, predicted, names, thresholds)
    write_json(summary, out / "report.json")
    plot_per_label(summary, out / "per_label_f1.png")
    rows = worst_multilabel(probs, truth, predicted, index, snippets, names, worst)
    write_rows(rows, out / "worst_examples.csv", WORST_COLUMNS, overwrite=True)
    return summary
