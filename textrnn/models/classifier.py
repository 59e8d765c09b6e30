"""The small base shared by the text classifiers: cross-entropy loss, accuracy and macro-F1 per stage,
the optimizer, and pretrained word vectors copied into the embedding when a fit starts from scratch.
The models themselves (``text_rnn.py``, ``text_cnn.py``) hold the whole forward pass.

With ``multi_label=True`` the same head gives one logit per label: ``BCEWithLogitsLoss`` (``pos_weight``
for rare labels), sigmoid probabilities, micro/macro-F1, subset accuracy and Hamming loss, and per-label
``thresholds`` (a buffer, so every checkpoint holds them) tuned on the validation split after each
validation epoch of a fit (`textrnn.models.multilabel`).
"""

from __future__ import annotations

from typing import Any, Optional

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score
from torchmetrics.classification import MultilabelExactMatch, MultilabelF1Score, MultilabelHammingDistance

from textrnn.data.tokenizer import SPECIAL_TOKENS
from textrnn.inference.fits import check_fits, first_embedding, restore_data, save_record
from textrnn.models import multilabel as ml
from textrnn.models.optim import LRSchedule, Optimizer, build_optimizer
from textrnn.nn.checks import check_positive, check_size
from textrnn.nn.vectors import SOURCES_HELP, Coverage, fill_embedding


def check_vector_args(embeddings: Optional[str], freeze_embeddings: bool) -> None:
    """Refuse ``freeze_embeddings`` without ``embeddings``: it would freeze random vectors."""
    if freeze_embeddings and not embeddings:
        raise ValueError("freeze_embeddings=True needs pretrained vectors to keep fixed; set embeddings to "
                         f"{SOURCES_HELP}, or set freeze_embeddings=False")


class TextClassifier(pl.LightningModule):
    """Training plumbing for a model whose ``forward(ids, lengths)`` returns logits (B, num_classes).

    Subclasses call ``save_hyperparameters()`` themselves, so the checkpoint holds exactly their own
    constructor arguments (plain numbers and strings) and rebuilds them alone.
    """

    def __init__(
        self, num_classes: int, optimizer: Optimizer, lr: float, weight_decay: float, lr_schedule: LRSchedule,
        multi_label: bool = False, class_weights: Optional[Any] = None, pos_weight: Optional[Any] = None,
        threshold: float = 0.5, tune_thresholds: bool = True,
    ) -> None:
        super().__init__()
        check_size("num_classes", num_classes, low=2)
        check_positive("lr", lr)
        check_positive("weight_decay", weight_decay, allow_zero=True)
        ml.check_threshold(threshold)
        if multi_label and class_weights is not None:
            raise ValueError("class_weights weights the single-label cross-entropy; for multi-label models use "
                             "pos_weight ('balanced' or one number per label)")
        if not multi_label and pos_weight is not None:
            raise ValueError("pos_weight weights the multi-label BCE loss; for single-label models use "
                             "class_weights ('balanced' or one number per class)")
        ml.check_weights(class_weights, num_classes, "class_weights")
        ml.check_weights(pos_weight, num_classes, "pos_weight")
        self.multi_label = bool(multi_label)
        if multi_label:
            weight = None if pos_weight is None else torch.tensor(
                [1.0] * num_classes if pos_weight == "balanced" else pos_weight, dtype=torch.float32)
            self.loss_fn = nn.BCEWithLogitsLoss(pos_weight=weight)
            # Per-label decision thresholds: a buffer, so they live in every checkpoint with the weights.
            self.register_buffer("thresholds", torch.full((num_classes,), float(threshold)))
            self._val_outputs: list[tuple[Tensor, Tensor]] = []
        else:
            weight = None if class_weights is None else torch.tensor(
                [1.0] * num_classes if class_weights == "balanced" else class_weights, dtype=torch.float32)
            self.loss_fn = nn.CrossEntropyLoss(weight=weight)
        metrics = MetricCollection(_multilabel_metrics(num_classes) if multi_label else
            {"acc": MulticlassAccuracy(num_classes, average="micro"), "f1_macro": MulticlassF1Score(num_classes, average="macro")}
        )
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        # The loss as a mean over examples, summed across processes: exact under DDP, where shards differ in size.
        self.val_loss = MeanMetric()
        self.test_loss = MeanMetric()
        self.vectors_coverage: Optional[Coverage] = None  # set when pretrained vectors are copied in
        self._weights_loaded = False  # any load_state_dict: a checkpoint's weights, never overwritten
        self.register_load_state_dict_post_hook(_mark_weights_loaded)

    def model_step(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        logits = self(batch["ids"], batch["lengths"])  # (B, C)
        return self.loss_fn(logits, batch["labels"]), logits

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss, _ = self.model_step(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["labels"]))
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val", self.val_metrics, self.val_loss)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Logs the test metrics and returns the logits (B, C): callbacks get them as ``outputs`` in
        ``on_test_batch_end`` (`textrnn.callbacks.ClassificationReport` builds its report from them)."""
        return self._eval_step(batch, "test", self.test_metrics, self.test_loss)

    def _eval_step(
        self, batch: dict[str, Tensor], stage: str, metrics: MetricCollection, mean_loss: MeanMetric
    ) -> Tensor:
        loss, logits = self.model_step(batch)
        n = len(batch["labels"])  # texts (multi-label labels are (B, L))
        mean_loss.update(loss, weight=n)
        self.log(f"{stage}/loss", mean_loss, batch_size=n)
        if self.multi_label:
            probs = logits.detach().float().sigmoid()  # (B, L)
            # Validation decides at the global threshold (the per-label ones are tuned on it); test at the
            # stored per-label thresholds, as every prediction path does.
            cut = self.thresholds if stage == "test" else torch.full_like(self.thresholds, self.hparams.threshold)
            metrics.update((probs >= cut).long(), batch["labels"].long())
            if stage == "val":
                self._val_outputs.append((probs.cpu(), batch["labels"].detach().cpu()))
        else:
            metrics.update(logits, batch["labels"])
        self.log_dict(metrics, batch_size=n, prog_bar=stage == "val")
        return logits.detach()  # (B, C)

    def on_validation_epoch_start(self) -> None:
        if self.multi_label:
            self._val_outputs = []

    def on_validation_epoch_end(self) -> None:
        """Multi-label fits: tune the per-label thresholds on this epoch's validation probabilities (the
        checkpoint saved after this validation then holds thresholds tuned for its own weights)."""
        if not self.multi_label or not self.hparams.tune_thresholds or self.trainer.sanity_checking:
            return
        if self.trainer.state.fn != "fit" or not self._val_outputs:
            return
        probs = torch.cat([p for p, _ in self._val_outputs])  # (N, L)
        targets = torch.cat([t for _, t in self._val_outputs])  # (N, L)
        if self.trainer.world_size > 1:  # every process tunes on the whole validation split
            shares: list[Any] = [None] * self.trainer.world_size
            torch.distributed.all_gather_object(shares, (probs, targets))
            probs, targets = torch.cat([p for p, _ in shares]), torch.cat([t for _, t in shares])
        tuned = ml.tune_thresholds(probs.numpy(), targets.numpy(), self.hparams.threshold)
        self.thresholds.copy_(torch.tensor(tuned, dtype=self.thresholds.dtype))
        self._val_outputs = []

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Class probabilities (B, C) (multi-label: each label's sigmoid probability)."""
        logits = self(batch["ids"], batch["lengths"]).float()
        return logits.sigmoid() if self.multi_label else logits.softmax(dim=-1)

    def configure_optimizers(self):
        hp = self.hparams
        return build_optimizer(self, hp.optimizer, hp.lr, hp.weight_decay, hp.lr_schedule)

    def on_fit_start(self) -> None:
        """Copy the pretrained vectors (``embeddings``) into the embedding, if the fit starts from scratch.

        Not in ``setup``: Lightning restores a checkpoint's weights after ``setup`` and before this hook,
        so only here is it known whether the weights came from a checkpoint (which already holds the
        vectors, fine-tuned or not: resuming, testing and classifying never read the vector file).
        """
        source = self.hparams.get("embeddings")
        if source and not self._weights_loaded and self.trainer.ckpt_path is None and self.vectors_coverage is None:
            self.load_vectors(source, self.trainer.datamodule)
        if not self._weights_loaded and self.trainer.ckpt_path is None:
            self._balance_loss(self.trainer.datamodule)

    def _balance_loss(self, data: Any) -> None:
        """``class_weights`` / ``pos_weight`` "balanced": computed from the training split's label counts
        (then kept in the checkpoint with the weights)."""
        option = self.hparams.get("pos_weight" if self.multi_label else "class_weights")
        if option != "balanced":
            return
        if not hasattr(data, "label_counts"):
            raise ValueError(f"{'pos_weight' if self.multi_label else 'class_weights'}='balanced' needs the training "
                             f"split's label counts; fit was given {type(data).__name__}, use a TextDataModule")
        counts = data.label_counts("train")
        if self.multi_label:
            values, buffer = ml.balanced_pos_weight(counts, len(data.labels("train"))), self.loss_fn.pos_weight
        else:
            values, buffer = ml.balanced_class_weights(counts), self.loss_fn.weight
        buffer.copy_(torch.tensor(values, dtype=buffer.dtype))
        shown = ", ".join(f"{name} {value:.3g}" for name, value in zip(data.label_names, values))
        pl.utilities.rank_zero_info(f"Loss weights ({'pos_weight' if self.multi_label else 'class_weights'}="
                                    f"balanced, from the training counts): {shown}")

    def load_vectors(self, source: str, data: Any) -> Coverage:
        """Copy ``source``'s vectors into the embedding (see `load_vectors`) and keep the coverage."""
        self.vectors_coverage = load_vectors(self, source, data)
        return self.vectors_coverage

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # `--ckpt_path` of another model or with another run's vocabulary: one clear error, not a size
        # mismatch deep in torch, nor ids of one vocabulary silently fed to another's embedding.
        check_fits(self, checkpoint)
        restore_data(self, checkpoint)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # textrnn's record: the class to rebuild from the checkpoint alone, the tokenizer, the label names.
        save_record(self, checkpoint, "multi_label" if self.multi_label else "classification")


def load_vectors(model: nn.Module, source: str, data: Any) -> Coverage:
    """Copy ``source``'s vectors into the embedding rows of ``model`` for the words of ``data.tokenizer`` (a
    `TextDataModule`'s vocabulary) and print the coverage: of the vocabulary and of the training tokens.
    Shared by the classifiers and the language model."""
    tokenizer = getattr(data, "tokenizer", None)
    if tokenizer is None:
        raise ValueError(f"embeddings {source!r}: the model needs the vocabulary's words, and fit was given "
                         f"{type(data).__name__ if data is not None else 'no datamodule'}; use a TextDataModule")
    specials = [tokenizer.token_to_id(token) for token in SPECIAL_TOKENS]
    train_ids = data.encoded("train").flat if hasattr(data, "encoded") else None
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    coverage = fill_embedding(first_embedding(model), source, vocab, specials, train_ids)
    pl.utilities.rank_zero_info(f"Pretrained word vectors {coverage.describe()}")
    return coverage


def _multilabel_metrics(num_labels: int) -> dict[str, Any]:
    """The multi-label metrics, fed 0/1 decisions: micro-F1 (monitored), macro-F1, subset accuracy (exact
    match; logged as ``acc`` too, scikit-learn's accuracy for label sets) and Hamming loss."""
    return {
        "f1_micro": MultilabelF1Score(num_labels, average="micro"),
        "f1_macro": MultilabelF1Score(num_labels, average="macro"),
        "subset_acc": MultilabelExactMatch(num_labels),
        "acc": MultilabelExactMatch(num_labels),
        "hamming_loss": MultilabelHammingDistance(num_labels, average="micro"),
    }


def _mark_weights_loaded(module: TextClassifier, incompatible_keys: Any) -> None:
    module._weights_loaded = True
