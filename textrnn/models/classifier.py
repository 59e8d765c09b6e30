"""The small base shared by the text classifiers: cross-entropy loss, accuracy and macro-F1 per stage,
the optimizer, and pretrained word vectors copied into the embedding when a fit starts from scratch.
The models themselves (``text_rnn.py``, ``text_cnn.py``) hold the whole forward pass.
"""

from __future__ import annotations

from typing import Any, Optional

import lightning.pytorch as pl
from torch import Tensor, nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from textrnn.data.tokenizer import SPECIAL_TOKENS
from textrnn.inference.fits import check_fits, first_embedding
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
        self, num_classes: int, optimizer: Optimizer, lr: float, weight_decay: float, lr_schedule: LRSchedule
    ) -> None:
        super().__init__()
        check_size("num_classes", num_classes, low=2)
        check_positive("lr", lr)
        check_positive("weight_decay", weight_decay, allow_zero=True)
        self.loss_fn = nn.CrossEntropyLoss()
        metrics = MetricCollection(
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
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["labels"].numel())
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
        n = batch["labels"].numel()
        mean_loss.update(loss, weight=n)
        self.log(f"{stage}/loss", mean_loss, batch_size=n)
        metrics.update(logits, batch["labels"])
        self.log_dict(metrics, batch_size=n, prog_bar=stage == "val")
        return logits.detach()  # (B, C)

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Class probabilities (B, C)."""
        return self(batch["ids"], batch["lengths"]).float().softmax(dim=-1)

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

    def load_vectors(self, source: str, data: Any) -> Coverage:
        """Copy ``source``'s vectors into the embedding rows of the words of ``data.tokenizer`` (a
        `TextDataModule`'s vocabulary) and print the coverage: of the vocabulary and of the training tokens."""
        tokenizer = getattr(data, "tokenizer", None)
        if tokenizer is None:
            raise ValueError(f"embeddings {source!r}: the model needs the vocabulary's words, and fit was given "
                             f"{type(data).__name__ if data is not None else 'no datamodule'}; use a TextDataModule")
        specials = [tokenizer.token_to_id(token) for token in SPECIAL_TOKENS]
        train_ids = data.encoded("train").flat if hasattr(data, "encoded") else None
        vocab = tokenizer.get_vocab(with_added_tokens=True)
        self.vectors_coverage = fill_embedding(first_embedding(self), source, vocab, specials, train_ids)
        pl.utilities.rank_zero_info(f"Pretrained word vectors {self.vectors_coverage.describe()}")
        return self.vectors_coverage

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # `--ckpt_path` of another model or with another run's vocabulary: one clear error, not a size
        # mismatch deep in torch, nor ids of one vocabulary silently fed to another's embedding.
        check_fits(self, checkpoint)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The class to rebuild from the checkpoint alone, as a plain string (see textrnn.load).
        checkpoint["textrnn_model"] = f"{type(self).__module__}.{type(self).__qualname__}"


def _mark_weights_loaded(module: TextClassifier, incompatible_keys: Any) -> None:
    module._weights_loaded = True
