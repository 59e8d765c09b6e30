"""The classical anchor on the same split as the neural models: TF-IDF (word 1-2 grams) + LinearSVC.

The pipeline lives in `benchmarks.harness.runs` (`tfidf_pipeline`, `fit_tfidf`), where `benchmarks/compare.py`
uses it too; this script trains it once on a split and prints its test scores.

With ``--multi_label`` (default data set: the built-in ``bbc_news_multilabel``) it is one-vs-rest: one
binary classifier per label on the same TF-IDF features (`benchmarks.multilabel_baseline`), each label's
score turned into a probability by the sigmoid, and the neural models' decision rule: per-label
thresholds tuned on the validation split to maximise F1 (``--no_tune``: 0.5 for every label), then
scored on test with the same scikit-learn metrics as the models' report.

Usage: python benchmarks/tfidf_baseline.py [--dataset bbc_news] [--seed 42]   (--seed: the split's seed)
       python benchmarks/tfidf_baseline.py --multi_label [--classifier linearsvc|logreg] [--no_tune]
Last line: tfidf_linearsvc_test_acc=<a> test_f1_macro=<f>
       or: tfidf_<classifier>_multilabel test_f1_micro=<m> test_f1_macro=<f> subset_acc=<s> hamming_loss=<h>
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the clone's root: `benchmarks.harness`

from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

from benchmarks.harness.runs import fit_tfidf  # noqa: E402
from textrnn.data import TextDataModule  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=None, help="default: bbc_news (bbc_news_multilabel with --multi_label)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--multi_label", action="store_true", help="one-vs-rest on label sets, tuned thresholds")
    parser.add_argument("--classifier", choices=("linearsvc", "logreg"), default="linearsvc",
                        help="--multi_label: the binary classifier per label")
    parser.add_argument("--no_tune", action="store_true", help="--multi_label: threshold 0.5 for every label")
    parser.add_argument("--data_option", action="append", default=[], metavar="NAME=VALUE",
                        help="more TextDataModule options, read as YAML like the CLI's values: label_column=labels, "
                             "'data_files={train: a.jsonl, test: b.jsonl}'")
    args = parser.parse_args()
    options = {}
    for option in args.data_option:
        name, sep, value = option.partition("=")
        if not sep or not name:
            parser.error(f"--data_option {option!r} is not NAME=VALUE, e.g. label_column=labels")
        options[name] = yaml.safe_load(value)  # as the CLI reads values: numbers, lists and dicts too
    if args.multi_label:
        from benchmarks.multilabel_baseline import run_multilabel

        data = TextDataModule(dataset=args.dataset or "bbc_news_multilabel", seed=args.seed, **options)
        scores = run_multilabel(data, args.classifier, tune=not args.no_tune)
        print(f"train={len(data.texts('train'))} test={len(data.texts('test'))} seed={args.seed} "
              f"labels={data.num_classes} tuned={not args.no_tune}")
        print(f"tfidf_{args.classifier}_multilabel test_f1_micro={scores['f1_micro']:.4f} "
              f"test_f1_macro={scores['f1_macro']:.4f} subset_acc={scores['subset_accuracy']:.4f} "
              f"hamming_loss={scores['hamming_loss']:.4f}")
        return
    data = TextDataModule(dataset=args.dataset or "bbc_news", seed=args.seed, **options)
    model, _ = fit_tfidf(data)
    predicted = model.predict(data.texts("test"))
    truth = data.labels("test")
    print(f"train={len(data.texts('train'))} test={len(truth)} seed={args.seed}")
    print(f"tfidf_linearsvc_test_acc={accuracy_score(truth, predicted):.4f} "
          f"test_f1_macro={f1_score(truth, predicted, average='macro'):.4f}")


if __name__ == "__main__":
    main()
