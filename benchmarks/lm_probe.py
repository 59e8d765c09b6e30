"""Does a pretrained language model's encoder carry the classes? A linear probe, against random weights.

The encoder (or only the embedding) of a `LanguageModel` checkpoint reads every text of the classifier's
data with its weights frozen; each text becomes [mean, max] of its states over time, and a logistic
regression trained on the training split is scored on the validation split (never the test split). The
same is done with the same architecture at random initialisation. If the pretrained features are no
better than random ones, fine-tuning has to learn the classes from the labels alone, and pretraining
cannot be expected to help much.

Usage (from a clone, after ``textrnn fit --config lm_bilstm``):
    python benchmarks/lm_probe.py --ckpt_path runs/lm_bilstm
    python benchmarks/lm_probe.py --ckpt_path runs/lm_bilstm --fractions 0.1 1.0 --max_length 400

Prints one row per feature set and label fraction: ``features fraction val_acc``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402


def pooled_features(model, datamodule, split: str, max_length: int, encoder: bool = True) -> np.ndarray:
    """(N, 2 * width) [mean, max] over each text's states (the encoder's, or only the embedding's)."""
    texts, rows = datamodule.texts(split), []
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            batch = datamodule.encode_texts(texts[start:start + 64])
            ids, lengths = batch["ids"][:, :max_length], batch["lengths"].clamp(max=max_length)
            states = model.embedding(ids)  # (B, T, E)
            if encoder:
                states = model.encoder(states, lengths)  # (B, T, D*H)
            mask = (torch.arange(ids.size(1))[None] < lengths[:, None]).unsqueeze(-1)  # (B, T, 1)
            mean = (states * mask).sum(1) / lengths[:, None]
            peak = states.masked_fill(~mask, float("-inf")).max(1).values
            rows.append(torch.cat([mean, peak], dim=-1))
    return torch.cat(rows).numpy()


def probe(train: np.ndarray, labels: np.ndarray, val: np.ndarray, val_labels: np.ndarray, fraction: float,
          seed: int) -> float:
    """Validation accuracy of a logistic regression on a seeded ``fraction`` of the standardised training rows."""
    from sklearn.linear_model import LogisticRegression

    mean, std = train.mean(0), train.std(0) + 1e-6
    keep = np.random.RandomState(seed).permutation(len(labels))[: max(len(np.unique(labels)), int(len(labels) * fraction))]
    classifier = LogisticRegression(max_iter=2000).fit(((train - mean) / std)[keep], labels[keep])
    return float(classifier.score((val - mean) / std, val_labels))


def main(argv: list[str] | None = None) -> list[tuple[str, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt_path", required=True, help="a LanguageModel checkpoint or run folder")
    parser.add_argument("--dataset", default="bbc_news")
    parser.add_argument("--data_files", default=None, help="your files, for --dataset csv/json/parquet")
    parser.add_argument("--min_frequency", type=int, default=5, help="the language model's data option")
    parser.add_argument("--max_length", type=int, default=400, help="tokens read per text (the classifier's)")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--seed", type=int, default=0, help="which training texts a fraction keeps")
    args = parser.parse_args(argv)

    from textrnn.data.text import TextDataModule
    from textrnn.models.language_model import LanguageModel
    from textrnn.models.pretrained import read_language_model

    pretrained = read_language_model(args.ckpt_path)
    datamodule = TextDataModule(dataset=args.dataset, data_files=args.data_files, max_length=args.max_length, min_frequency=args.min_frequency,
                                tokenizer_from=args.ckpt_path)
    datamodule.setup()
    labels, val_labels = np.array(datamodule.labels("train")), np.array(datamodule.labels("validation"))
    torch.manual_seed(args.seed)
    models = {"pretrained": pretrained.build(), "random": LanguageModel(**pretrained.hparams).eval()}
    results = []
    print("features fraction val_acc")
    for name, model in models.items():
        for encoder in (True, False):
            features = f"{name} {'encoder' if encoder else 'embedding'}"
            train = pooled_features(model, datamodule, "train", args.max_length, encoder)
            val = pooled_features(model, datamodule, "validation", args.max_length, encoder)
            for fraction in args.fractions:
                accuracy = probe(train, labels, val, val_labels, fraction, args.seed)
                results.append((features, fraction, accuracy))
                print(f"{features:20s} {fraction:g} {100 * accuracy:.2f}", flush=True)
    return results


if __name__ == "__main__":
    main()
