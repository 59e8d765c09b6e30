"""Per-class test reports for the text classifiers, written into the run directory at the end of testing.

`ClassificationReport` is a Lightning callback. During ``trainer.test`` it keeps the logits each
``test_step`` returns (no second pass over the test set), as class probabilities, with each row's
``index`` into ``datamodule.texts("test")``. At test end it writes:

- ``report.json``: precision, recall, F1 and support per class, accuracy, macro and weighted F1
  (scikit-learn's ``classification_report``);
- ``confusion_matrix.csv`` and ``confusion_matrix.png``: rows are true classes, columns predicted;
- ``worst_examples.csv``: the test texts the model got most wrong, misclassified ones first (most
  confident first), then the correct ones with the lowest probability on their true class.

A multi-label model gets its own report instead (`textrnn.callbacks.multilabel_report`): micro/macro-F1,
subset accuracy, Hamming loss and per-label scores in ``report.json``, ``per_label_f1.png``, and the
worst examples by the symmetric difference of the true and predicted label sets.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional, Sequence

import lightning.pytorch as pl
import numpy as np
import torch
from rich.console import Console

from textrnn.callbacks.plots import CJK_FONTS, run_dir
from textrnn.files import printable, save_figure, write_json, write_rows
from textrnn.models.classifier import TextClassifier

# Families that cover CJK, used as fallbacks when installed, so Chinese class names draw in the plot.


class ClassificationReport(pl.Callback):
    """After testing a `TextClassifier`, write per-class metrics, the confusion matrix and the worst
    test examples into the run directory (``trainer.log_dir``, else ``trainer.default_root_dir``).

    Other models (the sine regression) are ignored. Add it to a config's ``trainer.callbacks`` as
    ``class_path: textrnn.callbacks.ClassificationReport``.

    Args:
        worst: how many examples ``worst_examples.csv`` lists.
        snippet_chars: each listed text is cut to this many characters.
    """

    def __init__(self, worst: int = 10, snippet_chars: int = 200) -> None:
        if not isinstance(worst, int) or worst < 0:
            raise ValueError(f"worst must be an integer >= 0, got {worst!r}")
        if not isinstance(snippet_chars, int) or snippet_chars < 1:
            raise ValueError(f"snippet_chars must be an integer >= 1, got {snippet_chars!r}")
        self.worst = worst
        self.snippet_chars = snippet_chars
        self._probs: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._index: list[torch.Tensor] = []
        self.last_report: Optional[dict[str, Any]] = None  # the report.json content of the latest test

    # ---- collecting --------------------------------------------------------------------------------

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._probs, self._labels, self._index = [], [], []

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not isinstance(pl_module, TextClassifier) or dataloader_idx != 0:
            return
        if not isinstance(outputs, torch.Tensor):  # a subclass whose test_step returns no logits
            raise TypeError(f"ClassificationReport needs {type(pl_module).__name__}.test_step to return the "
                            f"logits (B, C) as TextClassifier.test_step does; it returned {type(outputs).__name__}")
        logits = outputs  # (B, C), computed by test_step under the trainer's precision
        multi = getattr(pl_module, "multi_label", False)
        self._probs.append((logits.float().sigmoid() if multi else logits.float().softmax(dim=-1)).cpu())
        self._labels.append(batch["labels"].cpu())
        self._index.append(batch["index"].cpu())

    def _gathered(self, pl_module: pl.LightningModule) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probs (N, C), labels (N,), index (N,)) of every process, each test row once, in index order."""
        num_classes = int(pl_module.hparams.num_classes)
        probs = torch.cat(self._probs) if self._probs else torch.empty(0, num_classes)
        labels = torch.cat(self._labels) if self._labels else torch.empty(0, dtype=torch.long)
        index = torch.cat(self._index) if self._index else torch.empty(0, dtype=torch.long)
        if pl_module.trainer.world_size > 1:  # shards differ in size: pad to the largest, gather, drop pads
            count = int(pl_module.all_gather(torch.tensor(len(index), device=pl_module.device)).max())
            pad = count - len(index)
            probs = torch.cat([probs, probs.new_zeros(pad, num_classes)])
            labels = torch.cat([labels, labels.new_full((pad, *labels.shape[1:]), -1)])
            index = torch.cat([index, index.new_full((pad,), -1)])
            gathered = [pl_module.all_gather(t.to(pl_module.device)).cpu() for t in (probs, labels, index)]
            probs, labels, index = gathered[0].flatten(0, 1), gathered[1].flatten(0, 1), gathered[2].flatten()
        probs, labels, index = probs.numpy(), labels.numpy(), index.numpy()
        keep = index >= 0
        _, first = np.unique(index[keep], return_index=True)  # one row per test text, sorted by index
        return probs[keep][first], labels[keep][first], index[keep][first]

    # ---- writing -----------------------------------------------------------------------------------

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not isinstance(pl_module, TextClassifier):
            return
        probs, labels, index = self._gathered(pl_module)
        out = run_dir(trainer)  # on every process: trainer.log_dir is a collective (a broadcast) under DDP
        if not trainer.is_global_zero:
            return
        if len(index) == 0:
            warnings.warn("ClassificationReport: no test predictions were collected; no report written")
            return
        data = trainer.datamodule
        num_classes = probs.shape[1]
        names = [str(name) for name in getattr(data, "label_names", range(num_classes))]
        texts = data.texts("test") if hasattr(data, "texts") else None
        snippets = [self._snippet(texts[i]) if texts is not None else "" for i in index]
        if getattr(pl_module, "multi_label", False):
            from textrnn.callbacks.multilabel_report import write_multilabel_report

            thresholds = pl_module.thresholds.detach().float().cpu().tolist()
            self.last_report = write_multilabel_report(out, probs, labels, index, snippets, names, thresholds,
                                                       self.worst)
            Console().print(
                f"Classification report: micro-F1 {self.last_report['f1_micro']:.4f}, macro-F1 "
                f"{self.last_report['f1_macro']:.4f}, subset accuracy {self.last_report['subset_accuracy']:.4f} "
                f"on {len(index)} test texts -> {printable(out)}",
                markup=False, highlight=False, soft_wrap=True,
            )
            return
        predicted = probs.argmax(axis=1)  # (N,)

        self.last_report = classification_summary(labels, predicted, names)
        write_json(self.last_report, out / "report.json")
        matrix = confusion_counts(labels, predicted, num_classes)
        write_confusion_csv(matrix, names, out / "confusion_matrix.csv")
        plot_confusion(matrix, names, out / "confusion_matrix.png")
        rows = worst_examples(probs, labels, index, snippets, names, self.worst)
        write_rows(rows, out / "worst_examples.csv",
                   ["index", "snippet", "true_label", "predicted_label", "confidence", "true_prob"], overwrite=True)
        Console().print(
            f"Classification report: accuracy {self.last_report['accuracy']:.4f}, "
            f"macro-F1 {self.last_report['f1_macro']:.4f} on {len(index)} test texts -> {printable(out)}",
            markup=False, highlight=False, soft_wrap=True,
        )

    def _snippet(self, text: str) -> str:
        text = " ".join(text.split())
        return text if len(text) <= self.snippet_chars else text[: self.snippet_chars - 1] + "…"


def classification_summary(labels: np.ndarray, predicted: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
    """report.json: accuracy, macro and weighted F1, and per-class precision/recall/F1/support."""
    from sklearn.metrics import classification_report

    raw = classification_report(
        labels, predicted, labels=list(range(len(names))), target_names=list(names), output_dict=True,
        zero_division=0,
    )

    def scores(entry: dict[str, float]) -> dict[str, float]:
        return {"precision": entry["precision"], "recall": entry["recall"], "f1": entry["f1-score"],
                "support": int(entry["support"])}

    return {
        "num_examples": int(len(labels)),
        "accuracy": float((labels == predicted).mean()),
        "f1_macro": raw["macro avg"]["f1-score"],
        "f1_weighted": raw["weighted avg"]["f1-score"],
        "per_class": {name: scores(raw[name]) for name in names},
        "macro_avg": scores(raw["macro avg"]),
        "weighted_avg": scores(raw["weighted avg"]),
    }


def confusion_counts(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts, row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def write_confusion_csv(matrix: np.ndarray, names: Sequence[str], path: Path) -> None:
    rows = [{"true \\ predicted": name, **dict(zip(names, map(int, counts)))} for name, counts in zip(names, matrix)]
    write_rows(rows, path, ["true \\ predicted", *names], overwrite=True)


def worst_examples(
    probs: np.ndarray,
    labels: np.ndarray,
    index: np.ndarray,
    snippets: Sequence[str],
    names: Sequence[str],
    limit: int,
) -> list[dict[str, Any]]:
    """The ``limit`` worst rows: misclassified by descending confidence, then by ascending true-class prob."""
    predicted = probs.argmax(axis=1)  # (N,)
    confidence = probs.max(axis=1)  # (N,)
    true_prob = probs[np.arange(len(labels)), labels]  # (N,)
    wrong = predicted != labels
    # lexsort sorts by the last key first: wrong rows first, then the key within each group.
    order = np.lexsort((np.where(wrong, -confidence, true_prob), ~wrong))[:limit]
    return [
        {"index": int(index[i]), "snippet": snippets[i], "true_label": names[labels[i]],
         "predicted_label": names[predicted[i]], "confidence": float(confidence[i]), "true_prob": float(true_prob[i])}
        for i in order
    ]


def plot_confusion(matrix: np.ndarray, names: Sequence[str], path: Path) -> None:
    """A heat map of the confusion matrix with every count written in its cell."""
    import matplotlib
    from matplotlib import font_manager
    from matplotlib.figure import Figure  # not pyplot: no global backend, no figure left open
    from matplotlib.ticker import MaxNLocator

    installed = {font.name for font in font_manager.fontManager.ttflist}
    families = ["DejaVu Sans", *(name for name in CJK_FONTS if name in installed)]
    size = 2.5 + 0.6 * len(names)
    with matplotlib.rc_context({"font.family": families}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*Glyph .* missing from font")  # no CJK font installed
        fig = Figure(figsize=(size + 1.5, size))
        ax = fig.subplots()
        image = ax.imshow(matrix, cmap="Blues")
        colorbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        colorbar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts, not fractions
        ticks = range(len(names))
        ax.set_xticks(ticks, labels=names, rotation=45, ha="right")
        ax.set_yticks(ticks, labels=names)
        ax.set(xlabel="predicted", ylabel="true", title=f"Confusion matrix ({int(matrix.sum())} test texts)")
        if len(names) <= 30:  # beyond that the numbers would not fit in the cells
            threshold = matrix.max() / 2
            for (row, col), count in np.ndenumerate(matrix):
                ax.text(col, row, str(count), ha="center", va="center", fontsize=8,
                        color="white" if count > threshold else "black")
        fig.tight_layout()
        save_figure(fig, path, dpi=110)  # atomic: a full disk leaves no truncated picture
