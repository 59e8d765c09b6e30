"""Data preparation at scale: textrnn's pipeline against a bare `datasets` + `tokenizers` one, side by side.

Writes a seeded synthetic CSV (default 1,000,000 rows of 20-70 words, 4 classes), then runs, each in a
subprocess of its own so that each peak RSS is its own, with a fresh `datasets` cache each:

1. textrnn: ``TextDataModule(dataset="csv", ...)``: ``setup("fit")``, then ``encoded()`` of each split,
   into an empty data cache;
2. bare: ``datasets.load_dataset("csv")`` -> ``train_test_split`` (twice: 80/10/10) ->
   ``Tokenizer.train_from_iterator`` (WordLevel, the same normalizer and pre-tokenizer) -> batched
   ``Dataset.map`` encode of the 3 splits. It imports torch first, so both sides carry the same libraries;
3. textrnn again on the same data and cache: the cached run (then Text-CNN training throughput on the
   prepared data: texts/s over ``--train-batches`` batches of ``--batch-size``, one process, CPU).

Its last line: ``prep_time_ratio=<textrnn/bare> rss_ratio=<textrnn/bare> cached_s=<seconds>``.

    python benchmarks/data_scale.py                      # 1,000,000 rows
    python benchmarks/data_scale.py --rows 200000
    python benchmarks/data_scale.py --csv /tmp/synthetic_1m.csv   # keeps the CSV, e.g. for textrnn fit
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLASSES = ("business", "science", "sports", "world")


def write_csv(path: Path, rows: int, seed: int) -> None:
    """``rows`` texts of 20-70 words; each class draws most words from its own part of a 20,000-word list."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = [a + b for a in letters for b in letters] + [a + b + c for a in letters for b in letters for c in letters]
    words += [w + "s" for w in words[: 20_000 - len(words)]]  # 20,000 short words, like English's frequent ones
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("text,label\n")
        for _ in range(rows):
            label = rng.randrange(len(CLASSES))
            own = words[label * 5_000 : (label + 1) * 5_000]
            text = " ".join(rng.choice(own) if rng.random() < 0.3 else rng.choice(words)
                            for _ in range(rng.randint(20, 70)))
            handle.write(f"{text},{CLASSES[label]}\n")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def child_textrnn(args: argparse.Namespace) -> dict:
    import logging

    from textrnn.data import TextDataModule

    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logging.getLogger("textrnn.data").addHandler(handler)
    logging.getLogger("textrnn.data").setLevel(logging.INFO)
    start = time.perf_counter()
    dm = TextDataModule(dataset="csv", data_files=args.csv, cache_dir=args.cache_dir, batch_size=args.batch_size,
                        max_length=400)
    dm.setup("fit")
    sizes = {split: len(dm.encoded(split)) for split in ("train", "validation", "test")}
    seconds = time.perf_counter() - start
    cache_used = any(line.startswith("using cached data") for line in lines)
    result = {"seconds": seconds, "rss_mb": peak_rss_mb(), "sizes": sizes, "vocab": dm.vocab_size,
              "cache_used": cache_used}
    if args.train_batches:
        result["texts_per_s"] = train_throughput(dm, args.train_batches)
    return result


def train_throughput(dm, batches: int) -> float:
    """Text-CNN (configs/textcnn.yaml's sizes) training steps on the prepared data: texts per second."""
    import torch

    from textrnn.models import TextCNN

    torch.manual_seed(0)
    model = TextCNN(vocab_size=dm.vocab_size, num_classes=dm.num_classes, embedding_dim=64, filter_sizes=[3, 4, 5],
                    num_filters=100, pooling="mean", dropout=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    texts, start = 0, time.perf_counter()
    for step, batch in enumerate(dm.train_dataloader()):
        if step == batches:
            break
        loss = torch.nn.functional.cross_entropy(model(batch["ids"], batch["lengths"]), batch["labels"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        texts += len(batch["labels"])
    return texts / (time.perf_counter() - start)


def child_bare(args: argparse.Namespace) -> dict:
    import torch  # noqa: F401  (the same libraries in memory as the textrnn side)
    from datasets import load_dataset
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from tokenizers.trainers import WordLevelTrainer

    start = time.perf_counter()
    data = load_dataset("csv", data_files=args.csv)["train"]
    first = data.train_test_split(test_size=0.1, seed=42)
    second = first["train"].train_test_split(test_size=0.1 / 0.9, seed=42)
    splits = {"train": second["train"], "validation": second["test"], "test": first["test"]}
    tokenizer = Tokenizer(WordLevel(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.BertNormalizer(lowercase=True)])
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    train = splits["train"]
    batches = (train[i : i + 10_000]["text"] for i in range(0, len(train), 10_000))
    trainer = WordLevelTrainer(vocab_size=30_000, special_tokens=["[PAD]", "[UNK]"], show_progress=False)
    tokenizer.train_from_iterator(batches, trainer=trainer)
    tokenizer.enable_truncation(400)

    def encode(batch: dict) -> dict:
        return {"ids": [e.ids for e in tokenizer.encode_batch_fast(batch["text"], add_special_tokens=False)]}

    sizes = {}
    for name, split in splits.items():
        sizes[name] = len(split.map(encode, batched=True, batch_size=10_000))
    return {"seconds": time.perf_counter() - start, "rss_mb": peak_rss_mb(), "sizes": sizes,
            "vocab": tokenizer.get_vocab_size(), "cache_used": False}


def run_child(kind: str, args: argparse.Namespace, hf_cache: Path, train_batches: int = 0) -> dict:
    env = dict(os.environ, HF_DATASETS_CACHE=str(hf_cache), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM=os.environ.get("TOKENIZERS_PARALLELISM", "true"))
    command = [sys.executable, __file__, "--child", kind, "--csv", args.csv, "--cache-dir", args.cache_dir,
               "--train-batches", str(train_batches), "--batch-size", str(args.batch_size)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the {kind} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the synthetic CSV")
    parser.add_argument("--seed", type=int, default=42, help="seeds the synthetic CSV")
    parser.add_argument("--workdir", default=None, help="where the CSV and caches go (default: a temporary folder)")
    parser.add_argument("--train-batches", type=int, default=200, help="Text-CNN training batches timed")
    parser.add_argument("--batch-size", type=int, default=64, help="texts per training batch")
    parser.add_argument("--child", choices=("textrnn", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--csv", help="write the synthetic CSV here and keep it (reused if it exists), e.g. for "
                        "textrnn fit; default: a temporary file")
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child_textrnn(args) if args.child == "textrnn" else child_bare(args)
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        work = Path(work)
        args.csv = args.csv or str(work / f"synthetic_{args.rows}.csv")
        args.cache_dir = str(work / "textrnn_cache")
        start = time.perf_counter()
        if not Path(args.csv).is_file():
            write_csv(Path(args.csv), args.rows, args.seed)
        size_mb = Path(args.csv).stat().st_size / 2**20
        print(f"rows={args.rows} csv_mb={size_mb:.0f} written_s={time.perf_counter() - start:.1f}", flush=True)
        textrnn = run_child("textrnn", args, work / "hf_textrnn")
        bare = run_child("bare", args, work / "hf_bare")
        cached = run_child("textrnn", args, work / "hf_cached", args.train_batches)
        for name, run in (("textrnn", textrnn), ("bare", bare), ("textrnn_cached", cached)):
            print(f"run={name} seconds={run['seconds']:.1f} peak_rss_mb={run['rss_mb']:.0f} "
                  f"cache_used={run['cache_used']} sizes={run['sizes']} vocab={run['vocab']}", flush=True)
        if args.train_batches:
            print(f"textcnn_train texts_per_s={cached['texts_per_s']:.0f} "
                  f"({args.train_batches} batches of {args.batch_size})")
        print(f"prep_time_ratio={textrnn['seconds'] / bare['seconds']:.3f} "
              f"rss_ratio={textrnn['rss_mb'] / bare['rss_mb']:.3f} cached_s={cached['seconds']:.1f}")


if __name__ == "__main__":
    main()
