"""Compare Text-RNN (BiLSTM, BiGRU, vanilla BiRNN), Text-CNN (the BiLSTM and Text-CNN also with GloVe
vectors) and TF-IDF + LinearSVC on the same BBC split over several seeds. The logic lives in `benchmarks.harness`; this is its command line.

Every neural run is `textrnn fit --config <model> --seed_everything <seed>`; TF-IDF trains
on the same train split and is evaluated on the same test split. Finished runs (a result.json in their
run directory, with the same config and budget) are reused, so an interrupted comparison resumes.

    python benchmarks/compare.py                          # everything, seeds 42 43 44 (~30+ min on 2 cores)
    python benchmarks/compare.py --models textcnn tfidf_svm --seeds 42
    python benchmarks/compare.py --max-epochs 1 --limit-train-batches 3 --out /tmp/compare   # quick check

Writes OUT/runs.csv (per run), OUT/summary.csv (per model) and OUT/summary.md (a Markdown table for the
docs), and prints the table.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the clone's root: `benchmarks.harness`

from benchmarks import harness as compare  # noqa: E402


def number(text: str) -> int | float:
    """An int ("3" batches) or a float ("0.25" of the batches), as Lightning's limit_* arguments take."""
    return float(text) if "." in text else int(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(compare.MODELS), default=list(compare.MODELS),
                        help="which models (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(compare.DEFAULT_SEEDS),
                        help="one run per model and seed (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=compare.DEFAULT_OUT, help="output folder (default: runs/compare)")
    parser.add_argument("--configs", type=Path, default=compare.CONFIG_DIR, help="folder of the models' configs")
    budget = parser.add_argument_group("reduced budget, for quick checks (default: the configs' own)")
    budget.add_argument("--max-epochs", type=int)
    budget.add_argument("--limit-train-batches", type=number, help="batches per epoch (int) or a fraction (float)")
    budget.add_argument("--limit-val-batches", type=number, help="validation batches (int) or a fraction (float)")
    parser.add_argument("--repeats", type=int, default=3, help="timed inference passes per run; the fastest counts")
    parser.add_argument("--rerun", action="store_true", help="retrain runs even when a finished one matches")
    args = parser.parse_args(argv)
    sys.argv = sys.argv[:1]  # each run hands LightningCLI its own arguments; it warns when it also sees ours

    limits = compare.Budget(args.max_epochs, args.limit_train_batches, args.limit_val_batches)
    results = compare.run_comparison(args.models, args.seeds, args.out, limits, args.configs, args.repeats,
                                     reuse=not args.rerun)
    print()
    print(compare.markdown_report(results))
    print(f"Per run: {args.out / 'runs.csv'}; per model: {args.out / 'summary.csv'}; "
          f"Markdown: {args.out / 'summary.md'}")


if __name__ == "__main__":
    main()
