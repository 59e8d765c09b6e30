"""Label efficiency on BBC News: accuracy against the number of training labels, for a BiLSTM from random
initialisation, from GloVe vectors and from a pretrained language model, for the Text-CNN and for TF-IDF +
LinearSVC.

Every run uses the shipped config as ``textrnn fit --config NAME --seed_everything S`` does, with
``--data.init_args.label_fraction F --data.init_args.label_seed S``: a stratified, seeded share F of the
training texts keeps its labels (at least one text a class). The split (seed 42), the vocabulary and the
validation and test splits never change. The language model (``lm_bilstm``) is pretrained once per seed
on *all* training texts, never a validation or test text, and every fraction fine-tunes from it: unlabelled
text is what a user with few labels has.

Fewer labels mean fewer steps an epoch, so the neural models train for ``max_epochs / sqrt(F)`` epochs
(``--epoch_scaling sqrt``; 10 epochs at 100% is 32 at 10% and 45 at 5%): as many epochs as with all labels
would leave a 5% run 27 optimizer steps. The checkpoint tested is the best on validation accuracy, as
``textrnn fit`` does.

Writes under ``--out`` (default runs/label_efficiency): one folder per run, ``results.csv`` (one row per
run), ``summary.md`` (mean ± std over seeds per model and fraction) and ``label_efficiency.png`` (accuracy
against labels, error bars one standard deviation). A rerun reuses finished runs (their ``result.json``).

Usage:
    python benchmarks/label_efficiency.py                         # the full study (hours on 2 cores)
    python benchmarks/label_efficiency.py --fractions 0.1 1.0 --models bilstm bilstm_pretrained tfidf
    python benchmarks/label_efficiency.py --toy --out /tmp/le     # a smoke run on the tiny fixture
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the clone's root: `benchmarks.harness`

import yaml  # noqa: E402

from textrnn.files import write_json, write_rows  # noqa: E402

MODELS = {  # name -> (label, shipped config or None for TF-IDF)
    "bilstm": ("BiLSTM, random init", "textrnn_bilstm"),
    "bilstm_glove": ("BiLSTM + GloVe 50d", "textrnn_bilstm_glove"),
    "bilstm_pretrained": ("BiLSTM, pretrained LM", "textrnn_bilstm_pretrained"),
    "bilstm_pretrained_glove": ("BiLSTM, LM pretrained from GloVe 50d", "textrnn_bilstm_pretrained"),
    "textcnn": ("Text-CNN", "textcnn"),
    "tfidf": ("TF-IDF + LinearSVC", None),
}
LM_CONFIG = "lm_bilstm"
GLOVE = ["--model.init_args.embedding_dim", "50"]
LMS = {  # pretrained model -> (its language models' folder, the LM's extra arguments)
    "bilstm_pretrained": ("lm", []),
    "bilstm_pretrained_glove": ("lm_glove", GLOVE + ["--model.init_args.embeddings", "glove-6b-50d"]),
}
FRACTIONS = (0.05, 0.1, 0.25, 0.5, 1.0)
SEEDS = (42, 43, 44)
TOY = {  # the tiny English fixture, small models, one epoch
    "data": ["--data.init_args.dataset", "csv", "--data.init_args.data_files", str(REPO / "data" / "tiny_en.csv"),
             "--data.init_args.min_frequency", "1", "--data.init_args.batch_size", "8"],
    "rnn": ["--model.init_args.embedding_dim", "16", "--model.init_args.hidden_size", "16"],
}


def config_epochs(config: str) -> int:
    from textrnn.cli.configs import CONFIG_DIR

    return int(yaml.safe_load((Path(CONFIG_DIR) / f"{config}.yaml").read_text())["trainer"]["max_epochs"])


def epochs_for(config: str, fraction: float, scaling: str, cap: int | None) -> int:
    epochs = config_epochs(config)
    if scaling == "sqrt":
        epochs = math.ceil(epochs / math.sqrt(fraction))
    return min(epochs, cap) if cap else epochs


def fit(args: list[str]) -> tuple[object, float]:
    """``textrnn fit ARGS`` in this process: (the CLI object, seconds of the whole command)."""
    from textrnn.cli.app import run_cli

    start = time.perf_counter()
    cli = run_cli(["fit", *args, "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"])
    return cli, time.perf_counter() - start


def pretrain(name: str, seed: int, out: Path, opts: argparse.Namespace) -> tuple[Path, float]:
    """The language model of pretrained model ``name`` and ``seed`` (trained once, then reused): its run
    folder and training seconds."""
    where, lm_args = LMS[name]
    folder = out / where / f"seed{seed}"
    done = folder / "result.json"
    if done.is_file():
        return folder / LM_CONFIG, json.loads(done.read_text())["seconds"]
    extra = TOY["data"] + TOY["rnn"] + ["--data.init_args.bptt", "16"] if opts.toy else []
    epochs = ["--trainer.max_epochs", str(opts.lm_epochs)] if opts.lm_epochs else []
    cli, seconds = fit(["--config", LM_CONFIG, "--seed_everything", str(seed), *extra, *lm_args, *epochs,
                        "--trainer.logger.init_args.save_dir", str(folder)])
    write_json({"seconds": seconds, "test_ppl": float(cli.trainer.callback_metrics["test/ppl"])}, done)
    return folder / LM_CONFIG, seconds


def run_neural(name: str, fraction: float, seed: int, out: Path, lm: Path | None, opts: argparse.Namespace) -> dict:
    config = MODELS[name][1]
    folder = out / name / f"f{fraction:g}" / f"seed{seed}"
    args = ["--config", config, "--seed_everything", str(seed),
            "--data.init_args.label_fraction", str(fraction), "--data.init_args.label_seed", str(seed),
            "--trainer.max_epochs", str(epochs_for(config, fraction, opts.epoch_scaling, opts.max_epochs)),
            "--trainer.logger.init_args.save_dir", str(folder)]
    if opts.toy:
        args += TOY["data"] + (TOY["rnn"] if name.startswith("bilstm") else ["--model.init_args.embedding_dim", "16"])
    if lm is not None:
        args += ["--model.init_args.pretrained", str(lm)]
    if name == "bilstm_pretrained_glove":
        args += GLOVE
    cli, seconds = fit(args)
    metrics = cli.trainer.callback_metrics
    return {"val_acc": float(cli.trainer.checkpoint_callback.best_model_score),  # the model chosen on it
            "test_acc": float(metrics["test/acc"]), "test_f1_macro": float(metrics["test/f1_macro"]),
            "labels": len(cli.datamodule.labelled_rows()), "fit_seconds": seconds}


def run_tfidf(fraction: float, seed: int, opts: argparse.Namespace) -> dict:
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    from benchmarks.harness.runs import tfidf_pipeline
    from textrnn.data import TextDataModule

    options = {"dataset": "csv", "data_files": TOY["data"][3], "min_frequency": 1} if opts.toy else {"min_frequency": 5}
    data = TextDataModule(label_fraction=fraction, label_seed=seed, **options)
    rows = data.labelled_rows()
    texts, labels = data.texts("train"), np.asarray(data.labels("train"))
    start = time.perf_counter()
    model = tfidf_pipeline(seed).fit([texts[i] for i in rows], labels[rows])
    seconds = time.perf_counter() - start
    truth, predicted = data.labels("test"), model.predict(data.texts("test"))
    return {"test_acc": float(accuracy_score(truth, predicted)),
            "test_f1_macro": float(f1_score(truth, predicted, average="macro")), "labels": len(rows),
            "fit_seconds": seconds}


def summarise(rows: list[dict], out: Path, fractions: list[float], models: list[str]) -> str:
    """summary.md (and the plot): mean ± std of the test accuracy per model and label fraction."""
    cells, labels = {}, {}
    for row in rows:
        cells.setdefault((row["model"], row["fraction"]), []).append(100 * row["test_acc"])
        labels[row["fraction"]] = row["labels"]
    header = "| model | " + " | ".join(f"{f:.0%} ({labels.get(f, '?')} labels)" for f in fractions) + " |"
    lines = [header, "| --- |" + " ---: |" * len(fractions)]
    for name in models:
        values = []
        for f in fractions:
            accs = cells.get((name, f), [])
            std = statistics.stdev(accs) if len(accs) > 1 else 0.0
            values.append(f"{statistics.mean(accs):.2f} ± {std:.2f}" if accs else "-")
        lines.append(f"| {MODELS[name][0]} | " + " | ".join(values) + " |")
    seeds = sorted({row["seed"] for row in rows})
    table = "\n".join(lines) + f"\n\nTest accuracy (%), mean ± sample std over seeds {', '.join(map(str, seeds))}.\n"
    (out / "summary.md").write_text(table)
    plot(cells, labels, fractions, models, out / "label_efficiency.png")
    return table


def plot(cells: dict, labels: dict, fractions: list[float], models: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in models:
        points = [(labels[f], cells[(name, f)]) for f in fractions if (name, f) in cells]
        if not points:
            continue
        x = [p[0] for p in points]
        mean = [statistics.mean(p[1]) for p in points]
        std = [statistics.stdev(p[1]) if len(p[1]) > 1 else 0.0 for p in points]
        ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, label=MODELS[name][0])
    ax.set_xscale("log")
    ax.set_xlabel("training labels (log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("BBC News: accuracy against the number of labels")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "label_efficiency")
    parser.add_argument("--epoch_scaling", choices=("sqrt", "none"), default="sqrt")
    parser.add_argument("--max_epochs", type=int, default=None, help="cap on every neural run's epochs")
    parser.add_argument("--lm_epochs", type=int, default=None, help="the language model's epochs (default: its config's)")
    parser.add_argument("--toy", action="store_true", help="the tiny fixture and small models: a smoke run")
    opts = parser.parse_args(argv)
    for f in opts.fractions:
        if not 0 < f <= 1:
            parser.error(f"--fractions must be in (0, 1], got {f}")
    opts.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in opts.seeds:
        lms = {name: pretrain(name, seed, opts.out, opts) for name in LMS if name in opts.models}
        for fraction in opts.fractions:
            for name in opts.models:
                done = opts.out / name / f"f{fraction:g}" / f"seed{seed}" / "result.json"
                if done.is_file():
                    result = json.loads(done.read_text())
                else:
                    if name == "tfidf":
                        result = run_tfidf(fraction, seed, opts)
                    else:
                        lm = lms[name][0] if name in lms else None
                        result = run_neural(name, fraction, seed, opts.out, lm, opts)
                    if name in lms:
                        result["lm_seconds"] = lms[name][1]
                    write_json(result, done)
                rows.append({"model": name, "fraction": fraction, "seed": seed, **result})
                print(f"{name} fraction={fraction:g} seed={seed} labels={result['labels']} "
                      f"test_acc={result['test_acc']:.4f} fit_s={result['fit_seconds']:.0f}", flush=True)
    columns = ["model", "fraction", "seed", "labels", "val_acc", "test_acc", "test_f1_macro", "fit_seconds", "lm_seconds"]
    write_rows(rows, opts.out / "results.csv", columns, overwrite=True)
    table = summarise(rows, opts.out, opts.fractions, opts.models)
    print(table)
    return table


if __name__ == "__main__":
    main()
