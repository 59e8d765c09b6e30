"""The model-comparison harness behind ``python benchmarks/compare.py`` and ``notebooks/compare_models.ipynb``.

It lives beside the benchmarks, outside the ``textrnn`` package, because it writes into the clone
(``runs/compare``) and executes the clone's notebooks; it trains through the installed package's own
command line (`textrnn.cli.app.run_cli`) on the shipped configs. Three parts:

- `benchmarks.harness.results`: the contestants (`MODELS`), the `Budget`, one run's `RunResult`, the tables;
- `benchmarks.harness.runs`: training every model and seed on one split (`run_comparison`);
- `benchmarks.harness.readback`: reading runs back and plotting them for the notebooks.

``from benchmarks import harness`` gives the names the notebooks use, from all three.
"""

from benchmarks.harness.readback import (
    accuracy_by_length,
    confusion_matrix,
    learning_curve,
    plot_accuracy_by_length,
    plot_confusion_matrices,
    plot_learning_curves,
    predict_texts,
    read_predictions,
)
from benchmarks.harness.results import (
    CONFIG_DIR,
    DEFAULT_OUT,
    DEFAULT_SEEDS,
    MODELS,
    TINY_BUDGET,
    Budget,
    RunResult,
    load_results,
    markdown,
    markdown_report,
    markdown_table,
    summarize,
)
from benchmarks.harness.runs import fit_tfidf, run_comparison

__all__ = [
    "CONFIG_DIR", "DEFAULT_OUT", "DEFAULT_SEEDS", "MODELS", "TINY_BUDGET", "Budget", "RunResult",
    "accuracy_by_length", "confusion_matrix", "fit_tfidf", "learning_curve", "load_results", "markdown",
    "markdown_report", "markdown_table", "plot_accuracy_by_length", "plot_confusion_matrices",
    "plot_learning_curves", "predict_texts", "read_predictions", "run_comparison", "summarize",
]
