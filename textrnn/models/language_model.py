"""LanguageModel: next-token prediction on the Text-RNN's own embedding and recurrent encoder, to pretrain
them on unlabelled text before fine-tuning a classifier (Dai & Le 2015, "Semi-supervised Sequence
Learning"; Howard & Ruder 2018, ULMFiT). It is the text twin of the sine regression's next-value
prediction: the same cells and encoder, and ``generate`` rolls out as ``SineRNN.forward(x, future=N)`` does.

Bidirectional means two directional language models trained together (as ELMo does): the forward direction
at position t has read tokens 0..t and predicts token t+1; the backward direction has read tokens t..end
and predicts token t-1. With stacked layers each direction keeps a stack of its own
(``independent_directions``), so neither ever sees the token it predicts. Both directions share one output
layer.

The output layer is an adaptive softmax (Grave et al. 2017, torch's ``nn.AdaptiveLogSoftmaxWithLoss``):
the frequent tokens in a head, the rest in smaller tail clusters, about 4x cheaper than a full softmax
over a 10k vocabulary on CPU, and still an exact, normalised distribution, so evaluation perplexity is
exact. It relies on token ids being in frequency order, which textrnn's vocabularies are (specials first,
then by count). ``softmax: full`` is the plain softmax, with its output weights tied to the embedding
(Press & Wolf 2017) through a projection when hidden and embedding sizes differ.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric

from textrnn.models.classifier import check_vector_args, load_vectors
from textrnn.models.optim import LRSchedule, Optimizer, build_optimizer
from textrnn.nn import RecurrentEncoder, word_embedding
from textrnn.nn.cells import Cell, Nonlinearity
from textrnn.nn.checks import check_positive, check_probabilities
from textrnn.nn.encoder import Implementation, InitState
from textrnn.nn.vectors import Coverage

Softmax = Literal["adaptive", "full"]


class LanguageModel(pl.LightningModule):
    """A (bidirectional) recurrent language model whose ``embedding`` and ``encoder`` a `TextRNN` can load.

    Args:
        vocab_size: rows of the embedding table (linked from the datamodule by the CLI).
        pad_id: token id of padding (linked from the datamodule).
        embedding_dim: size of the word vectors.
        embeddings: pretrained vectors to start the embedding from when a fit starts from scratch, as the
            classifiers take them: a path (GloVe/word2vec text, word2vec .bin, fastText .vec) or a built-in
            name (``glove-6b-50d``). General-domain word vectors under an in-domain language model.
        freeze_embeddings: keep the pretrained vectors fixed while the language model trains.
        hidden_size: units per layer and direction.
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        nonlinearity: ``"tanh"`` or ``"relu"``, for ``cell="rnn"``.
        num_layers: stacked recurrent layers (each direction its own stack when bidirectional).
        bidirectional: train a backward language model beside the forward one.
        embedding_dropout: dropout on the embedded tokens.
        dropout: dropout between stacked layers.
        output_dropout: dropout on the encoder's outputs before the softmax.
        variational: one dropout mask per sequence for all time steps (AWD-LSTM's locked dropout).
        init_state: ``"zeros"`` or ``"learned"`` initial state.
        implementation: ``"fused"`` (torch's kernels) or ``"explicit"`` (the gate-by-gate cells).
        softmax: ``"adaptive"`` (cheap on CPU, exact) or ``"full"`` (tied to the embedding).
        cutoffs: the adaptive softmax's cluster boundaries in token ids (frequency ranks); the head holds
            ids below the first. Cutoffs at or above the vocabulary size are dropped.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"``, ``"adagrad"`` or ``"rmsprop"``.
        lr: learning rate.
        weight_decay: L2 penalty (decoupled for adamw).
        lr_schedule: ``"constant"``, ``"cosine"``, ``"slanted_triangular"`` or ``"one_cycle"``.
    """

    # The encoder's arguments are spelt out again on purpose, as in TextRNN: LightningCLI builds `--help`
    # and the YAML from each class's own typed signature.
    def __init__(
        self,
        vocab_size: int = 30000,
        pad_id: int = 0,
        embedding_dim: int = 128,
        embeddings: Optional[str] = None,
        freeze_embeddings: bool = False,
        hidden_size: int = 128,
        cell: Cell = "lstm",
        nonlinearity: Nonlinearity = "tanh",
        num_layers: int = 1,
        bidirectional: bool = True,
        embedding_dropout: float = 0.1,
        dropout: float = 0.1,
        output_dropout: float = 0.2,
        variational: bool = True,
        init_state: InitState = "zeros",
        implementation: Implementation = "fused",
        softmax: Softmax = "adaptive",
        cutoffs: list[int] = [1000, 4000],  # noqa: B006 (a plain list, read-only: LightningCLI shows it)
        optimizer: Optimizer = "adam",
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        lr_schedule: LRSchedule = "cosine",
    ) -> None:
        super().__init__()
        check_probabilities(embedding_dropout=embedding_dropout, dropout=dropout, output_dropout=output_dropout)
        check_positive("lr", lr)
        check_positive("weight_decay", weight_decay, allow_zero=True)
        check_vector_args(embeddings, freeze_embeddings)
        if softmax not in ("adaptive", "full"):
            raise ValueError(f"Unknown softmax {softmax!r}; valid choices are ('adaptive', 'full').")
        self.save_hyperparameters()
        self.embedding = word_embedding(vocab_size, embedding_dim, pad_id, freeze=freeze_embeddings)
        self.vectors_coverage: Optional[Coverage] = None  # set when pretrained vectors are copied in
        self.encoder = RecurrentEncoder(
            embedding_dim, hidden_size, cell=cell, nonlinearity=nonlinearity, num_layers=num_layers,
            bidirectional=bidirectional, input_dropout=embedding_dropout, dropout=dropout,
            output_dropout=output_dropout, variational=variational, init_state=init_state,
            implementation=implementation, independent_directions=True,
        )
        self.cutoffs = sorted({c for c in cutoffs if 0 < c < vocab_size})
        if softmax == "adaptive" and self.cutoffs:
            # div_value 4: each tail cluster projects to a 4x smaller size than the one before (less for a
            # small hidden size, so that the last cluster keeps at least one dimension).
            div_value = min(4.0, hidden_size ** (1 / len(self.cutoffs)) * (1 - 1e-6))
            self.output = nn.AdaptiveLogSoftmaxWithLoss(hidden_size, vocab_size, self.cutoffs, div_value=div_value)
        else:
            self.output = None
            self.proj = nn.Identity() if hidden_size == embedding_dim else nn.Linear(hidden_size, embedding_dim)
            self.out_bias = nn.Parameter(torch.zeros(vocab_size))
        self.train_nll, self.val_nll, self.test_nll = MeanMetric(), MeanMetric(), MeanMetric()

    # ---- the maths -----------------------------------------------------------------------------------

    def directions(self, ids: Tensor, lengths: Tensor) -> list[Tensor]:
        """Encoder outputs per direction: [forward (B, T, H)] or [forward, backward]."""
        out = self.encoder(self.embedding(ids), lengths)  # (B, T, D*H)
        return list(out.split(self.hparams.hidden_size, dim=-1))

    def log_probs(self, hidden: Tensor) -> Tensor:
        """Log-probabilities over the whole vocabulary (N, V) for hidden states (N, H)."""
        if self.output is not None:
            return self.output.log_prob(hidden.float())
        logits = self.proj(hidden) @ self.embedding.weight.t() + self.out_bias  # (N, V), tied to the embedding
        return logits.float().log_softmax(dim=-1)

    def _nll(self, hidden: Tensor, targets: Tensor) -> Tensor:
        """Summed negative log-likelihood of ``targets`` (N,) given ``hidden`` (N, H)."""
        if self.output is not None:
            return -self.output(hidden.float(), targets).output.sum()
        return nn.functional.cross_entropy(self.log_probs(hidden), targets, reduction="sum")

    def forward(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Summed NLL of every predictable token of the batch and the number of predictions.

        ``ids`` (B, T) right-padded, ``lengths`` (B,). Forward: the output at t predicts ids[t+1];
        backward: the output at t predicts ids[t-1]; both only within each text's own length.
        """
        lengths = lengths.to(ids.device)
        t = torch.arange(ids.size(1), device=ids.device)
        total, count = ids.new_zeros((), dtype=torch.float32), 0
        for direction, hidden in enumerate(self.directions(ids, lengths)):
            if direction == 0:
                mask = (t + 1).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T): a next token exists
                hidden, targets = hidden[:, :-1], ids[:, 1:]
                mask = mask[:, :-1]
            else:
                mask = (t >= 1).unsqueeze(0) & (t.unsqueeze(0) < lengths.unsqueeze(1))  # a previous token exists
                hidden, targets, mask = hidden[:, 1:], ids[:, :-1], mask[:, 1:]
            total = total + self._nll(hidden[mask], targets[mask])  # (N, H) rows of real predictions
            count += int(mask.sum())
        return total, count

    @torch.no_grad()
    def generate(self, ids: Tensor, tokens: int, temperature: float = 1.0, top_k: Optional[int] = None,
                 generator: Optional[torch.Generator] = None, banned: tuple[int, ...] = ()) -> Tensor:
        """Roll the forward direction out: ``ids`` (T,) of a prompt -> (T + tokens,), sampling each next token
        from the model's distribution (``temperature`` 0: always the most likely; ``top_k``: only from the k
        most likely; ``banned``: ids never produced, e.g. padding)."""
        if tokens < 0:
            raise ValueError(f"tokens must be >= 0, got {tokens}")
        if temperature < 0 or not math.isfinite(temperature):
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
        ids = ids.to(self.device)
        for _ in range(tokens):
            forward = self.directions(ids.unsqueeze(0), torch.tensor([ids.numel()], device=self.device))[0]
            scores = self.log_probs(forward[0, -1:])[0]  # (V,): the next token after the last one
            if banned:
                scores[list(banned)] = float("-inf")
            if temperature == 0:
                choice = scores.argmax()
            else:
                scores = scores / temperature
                if top_k is not None and top_k < scores.numel():
                    kth = scores.topk(top_k).values[-1]
                    scores = scores.masked_fill(scores < kth, float("-inf"))
                choice = torch.multinomial(scores.softmax(-1).cpu(), 1, generator=generator)[0].to(ids.device)
            ids = torch.cat([ids, choice.view(1)])
        return ids

    # ---- training ------------------------------------------------------------------------------------

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        total, count = self(batch["ids"], batch["lengths"])
        loss = total / max(count, 1)
        self.log("train/loss", loss, prog_bar=True, batch_size=count)
        self.train_nll.update(loss.detach(), weight=count)
        return loss

    def on_train_epoch_end(self) -> None:
        self.log("train/ppl", torch.exp(self.train_nll.compute()))
        self.train_nll.reset()

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, self.val_nll)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, self.test_nll)

    def _eval_step(self, batch: dict[str, Tensor], nll: MeanMetric) -> None:
        total, count = self(batch["ids"], batch["lengths"])
        nll.update(total / max(count, 1), weight=count)  # exact over processes: a token-weighted mean

    def on_validation_epoch_end(self) -> None:
        self._log_eval("val", self.val_nll)

    def on_test_epoch_end(self) -> None:
        self._log_eval("test", self.test_nll)

    def _log_eval(self, stage: str, nll: MeanMetric) -> None:
        loss = nll.compute()
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val")
        self.log(f"{stage}/ppl", torch.exp(loss), prog_bar=stage == "val")  # perplexity, both directions' mean
        nll.reset()

    def configure_optimizers(self):
        hp = self.hparams
        return build_optimizer(self, hp.optimizer, hp.lr, hp.weight_decay, hp.lr_schedule)

    def on_fit_start(self) -> None:
        # As in the classifiers: only a fit from scratch reads the vectors; a resumed fit has them already.
        source = self.hparams.get("embeddings")
        if source and self.trainer.ckpt_path is None and self.vectors_coverage is None:
            self.vectors_coverage = load_vectors(self, source, self.trainer.datamodule)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        from textrnn.inference.fits import check_fits, restore_data

        check_fits(self, checkpoint)  # another model's or another vocabulary's checkpoint: one clear error
        restore_data(self, checkpoint)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        from textrnn.inference.fits import save_record

        save_record(self, checkpoint, "language_model")  # the class, the tokenizer: textrnn.artifact
        # The CLI links num_classes and multi_label from every text datamodule; a language model takes neither.
        import inspect

        own = set(inspect.signature(type(self).__init__).parameters) | {"_class_path", "_instantiator"}
        hparams = checkpoint.get("hyper_parameters", {})
        for key in [key for key in hparams if key not in own]:
            hparams.pop(key)
