"""The classical anchor on the same split as the neural models: TF-IDF (word 1-2 grams) + LinearSVC.

The pipeline lives in `benchmarks.harness.runs` (`tfidf_pipeline`, `fit_tfidf`), where `benchmarks/compare.py`
uses it too; this script trains it once on a split and prints its test scores.

Usage: python benchmarks/tfidf_baseline.py [--dataset bbc_news] [--seed 42]   (--seed: the split's seed)
Last line: tfidf_linearsvc_test_acc=<a> test_f1_macro=<f>
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the clone's root: `benchmarks.harness`

from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

from benchmarks.harness.runs import fit_tfidf  # noqa: E402
from textrnn.data import TextDataModule  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="bbc_news")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    data = TextDataModule(dataset=args.dataset, seed=args.seed)
    model, _ = fit_tfidf(data)
    predicted = model.predict(data.texts("test"))
    truth = data.labels("test")
    print(f"train={len(data.texts('train'))} test={len(truth)} seed={args.seed}")
    print(f"tfidf_linearsvc_test_acc={accuracy_score(truth, predicted):.4f} "
          f"test_f1_macro={f1_score(truth, predicted, average='macro'):.4f}")


if __name__ == "__main__":
    main()
