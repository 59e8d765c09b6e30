"""``textrnn predict --output FILE``: write a text classifier's predictions to CSV or JSONL.

`PredictionWriter` is Lightning's `BasePredictionWriter`: it keeps each predict batch's class
probabilities (``predict_step`` returns them, (B, C)) with the batch's ``index`` and, when the epoch
ends, writes one row per text in text order, the rows ``textrnn classify --output`` writes
(`textrnn.files.prediction_rows`: index, text, label, confidence, one ``prob_<class>`` per class), through
`textrnn.files.write_rows`: never over an input, an existing file only with ``overwrite``, atomically.

The texts are the datamodule's test split (what its ``predict_dataloader`` serves), or a file of texts
(``--input``, read by `textrnn.files.read_texts` exactly as ``classify`` reads it), which `predict_texts`
runs through the checkpoint's own tokenizer. `add_prediction_arguments` and `run_predict` are what the
``textrnn predict`` command (`textrnn.cli.app`) adds to LightningCLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader

from textrnn.files import INPUT_FORMATS, OUTPUT_FORMATS, check_output, prediction_columns, prediction_rows
from textrnn.files import WriteError, printable, read_texts, write_rows
from textrnn.models.classifier import TextClassifier


class PredictionWriter(BasePredictionWriter):
    """Write the predictions of ``trainer.predict`` on a text classifier to a .csv or .jsonl file.

    Args:
        output: the file to write, ``.csv`` or ``.jsonl``; its folder is created.
        overwrite: replace ``output`` if it exists (otherwise it is refused, before anything runs).
        texts: the texts the predict batches' ``index`` refers to; None takes the datamodule's test split
            (``datamodule.texts("test")``), which its ``predict_dataloader`` serves.
        label_names: class names, logit i is label_names[i]; None takes the datamodule's.
        inputs: files ``output`` must not be (the input file, the checkpoint, the data files).
        top_k: multi-label: choose each text's k most probable labels instead of the model's thresholds.
    """

    def __init__(
        self,
        output: str,
        overwrite: bool = False,
        texts: Optional[Sequence[str]] = None,
        label_names: Optional[Sequence[str]] = None,
        inputs: Sequence[str] = (),
        top_k: Optional[int] = None,
    ) -> None:
        super().__init__(write_interval="batch")
        self.top_k = top_k
        self.inputs = [str(path) for path in inputs]
        self.output = check_output(output, self.inputs, overwrite)  # refuse a bad output before predicting
        self.overwrite = overwrite
        self.texts = None if texts is None else list(texts)
        self.label_names = None if label_names is None else [str(name) for name in label_names]
        self._probs: list[torch.Tensor] = []
        self._index: list[torch.Tensor] = []

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not isinstance(pl_module, TextClassifier):
            raise ValueError(f"--output writes the predictions of text classifiers; {type(pl_module).__name__} "
                             "is not one (TextRNN and TextCNN are)")
        self._probs, self._index = [], []

    def write_on_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, prediction: Any,
                           batch_indices: Optional[Sequence[int]], batch: Any, batch_idx: int,
                           dataloader_idx: int) -> None:
        self._probs.append(prediction.detach().float().cpu())  # (B, C)
        self._index.append(batch["index"].cpu())  # (B,)

    def _gathered(self, trainer: pl.Trainer) -> tuple[np.ndarray, np.ndarray]:
        """(probs (N, C), index (N,)) of every process, each text once, in index order."""
        probs = torch.cat(self._probs).numpy() if self._probs else np.empty((0, 0), dtype=np.float32)
        index = torch.cat(self._index).numpy() if self._index else np.empty(0, dtype=np.int64)
        if trainer.world_size > 1:  # every process holds a share (padded copies possible): gather, dedupe
            shares: list[Any] = [None] * trainer.world_size
            torch.distributed.all_gather_object(shares, (probs, index))
            shares = [(p, i) for p, i in shares if len(i)]
            if shares:
                probs = np.concatenate([p for p, _ in shares])
                index = np.concatenate([i for _, i in shares])
        _, first = np.unique(index, return_index=True)  # sorted by index, duplicates dropped
        return probs[first], index[first]

    def on_predict_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        probs, index = self._gathered(trainer)
        if not trainer.is_global_zero:
            return
        data = trainer.datamodule
        texts = self.texts if self.texts is not None else data.texts("test")
        names = self.label_names if self.label_names is not None else [str(name) for name in data.label_names]
        multi = bool(getattr(pl_module, "multi_label", False))
        sets = None
        if multi:  # the model's stored per-label thresholds (or top_k), as every prediction path decides
            from textrnn.models.multilabel import decide

            chosen = decide(probs, pl_module.thresholds, self.top_k)
            sets = [[names[j] for j in np.flatnonzero(row)] for row in chosen]
        rows = prediction_rows([texts[i] for i in index], probs.tolist(), names, index=index.tolist(), label_sets=sets)
        inputs = [*self.inputs, *_data_files(getattr(data, "hparams", {}).get("data_files"))]
        try:
            write_rows(rows, self.output, prediction_columns(names, multi), inputs, self.overwrite)
        except WriteError:  # a full disk: one line naming the file and the cause, the old file kept
            raise
        except OSError as err:  # a folder removed meanwhile: one line, the old file kept
            raise ValueError(f"cannot write {str(self.output)!r}: {err}") from err
        pl.utilities.rank_zero_info(f"Wrote {len(rows)} predictions to {printable(self.output)}")


# ---- the `textrnn predict` command -------------------------------------------------------------------


def add_prediction_arguments(parser: Any) -> None:
    """``--output``, ``--overwrite``, ``--input`` and ``--text_column`` on the ``predict`` parser."""
    parser.add_argument("--output", type=Optional[str], default=None,
                        help=f"write the predictions here: {', '.join(OUTPUT_FORMATS)} (default: not written)")
    parser.add_argument("--overwrite", type=bool, nargs="?", const=True, default=False,
                        help="replace --output if it exists (default: refuse)")
    parser.add_argument("--input", type=Optional[str], default=None,
                        help=f"predict these texts instead of the test split: {', '.join(INPUT_FORMATS)}")
    parser.add_argument("--text_column", type=str, default="text", help="the text column of a .csv or .jsonl --input")
    parser.add_argument("--top_k", type=Optional[int], default=None,
                        help="multi-label: the k most probable labels instead of the stored thresholds")


def _data_files(value: Any) -> Iterable[str]:
    """Every path in a datamodule's ``data_files`` (a path, a list, or a dict of split -> path(s))."""
    if isinstance(value, (str, Path)):
        yield str(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _data_files(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _data_files(item)


def protected_inputs(options: Any) -> list[str]:
    """The files a predict ``--output`` must not replace: ``--input``, ``--ckpt_path`` and the data files."""
    data = options.get("data")
    init_args = (data.get("init_args") if hasattr(data, "get") else None) or {}
    paths = [options.get("input"), options.get("ckpt_path"), *_data_files(init_args.get("data_files"))]
    return [str(path) for path in paths if path]


def check_prediction_options(options: Any) -> None:
    """Fail at once, before data or model load, on a bad ``--output`` or an ``--input`` without one."""
    if options.get("input") and not options.get("output"):
        raise ValueError("--input needs --output: give the .csv or .jsonl file to write the predictions to")
    if options.get("output"):
        check_output(options["output"], protected_inputs(options), bool(options.get("overwrite")))


def texts_loader(datamodule: Any, texts: Sequence[str], batch_size: int) -> DataLoader:
    """Batches {"ids", "lengths", "labels" (unused, 0), "index"} of ``texts`` under the datamodule's
    tokenizer, longest first as `textrnn.load(...).predict` makes them (`raw_batches`, the one path from
    raw text to a batch), so "index" puts the rows back in text order."""
    from textrnn.data.batching import raw_batches

    batches = [dict(batch, labels=torch.zeros(len(rows), dtype=torch.long), index=torch.tensor(rows))
               for rows, batch in raw_batches(datamodule.tokenizer, texts, batch_size, datamodule.pad_id)]
    return DataLoader(batches, batch_size=None)  # each item is already a batch


def run_predict(trainer: pl.Trainer, model: pl.LightningModule, datamodule: Any, options: Any, **kwargs: Any) -> Any:
    """``trainer.predict`` for ``textrnn predict``: with ``--output``, a `PredictionWriter` writes the
    test split's predictions, or those of the ``--input`` texts, which are tokenized with the
    checkpoint's tokenizer (``--ckpt_path``), as `textrnn.load` would."""
    output = options.get("output")
    if not output:
        pl.utilities.rank_zero_info("Predictions are not written anywhere; pass --output FILE.csv (or .jsonl).")
        return trainer.predict(model, datamodule=datamodule, **kwargs)
    inputs = protected_inputs(options)
    if not options.get("input"):
        trainer.callbacks.append(PredictionWriter(output, bool(options.get("overwrite")), inputs=inputs,
                                                  top_k=options.get("top_k")))
        return trainer.predict(model, datamodule=datamodule, **kwargs)
    if not hasattr(datamodule, "tokenizer"):
        raise ValueError(f"--input takes texts for a text classifier's datamodule; {type(datamodule).__name__} "
                         "has no tokenizer")
    texts = read_texts(options["input"], options.get("text_column") or "text")
    ckpt_path = kwargs.get("ckpt_path")
    if ckpt_path:  # the checkpoint's tokenizer and label names, not those trained anew from the config's data
        from textrnn.artifact import read_record
        from textrnn.inference.checkpoints import read_checkpoint

        record = read_record(read_checkpoint(ckpt_path), repr(str(ckpt_path)))
        if record is not None and record.has_data:
            datamodule.load_state_dict(record.data_state())
    hparams = datamodule.hparams
    loader = texts_loader(datamodule, texts, hparams.get("eval_batch_size") or 2 * hparams.get("batch_size", 32))
    trainer.callbacks.append(PredictionWriter(output, bool(options.get("overwrite")), texts,
                                              datamodule.label_names, inputs, options.get("top_k")))
    return trainer.predict(model, dataloaders=loader, **kwargs)
