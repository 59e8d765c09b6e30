"""ONNX export of a trained text classifier, and inference on the exported model with ONNX Runtime.

``export(ckpt, folder)`` (the ``textrnn export`` command) writes a folder that classifies raw text
without torch or Lightning at inference time:

* ``model.onnx``: inputs ``ids`` (int64, batch x length, right-padded with the pad id) and ``lengths``
  (int64, batch); output ``probs`` (float32, batch x classes); batch and length are dynamic.
* ``tokenizer.json`` (the Hugging Face tokenizer, ``Tokenizer.save``), ``labels.json`` (class names, index
  = class id) and ``model.json`` (model class and arguments, pad id, max_length, textrnn version).

``textrnn.load(folder)`` reads it back as an `OnnxClassifier`, the same `Classifier` API
(``predict``, ``predict_proba``) with the forward pass run by ONNX Runtime.

Variable lengths stay exact. The recurrent encoder needs no packed sequences (which do not export
correctly): the backward direction reads each text reversed within its own length through a ``gather``,
and masks keep padding out of every pooling, so the graph is plain tensor maths over the padded batch.
We use torch's TorchScript-based exporter with ``dynamic_axes``: it maps torch's fused RNN kernels to
ONNX's ``RNN``/``LSTM``/``GRU`` operators, whose time loop runs over any length. The newer
``dynamo=True`` exporter (torch 2.13) unrolls the recurrence over the example's length, so its graph
fails on any other length. Every export is checked against torch on texts of several lengths before
it is written as done.

Needs the optional extra ``pip install "textrnn[onnx]"`` (onnx, onnxruntime); the core package never
imports them.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import os
import shutil
import uuid
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Union

import torch
from torch import Tensor, nn

import textrnn
from textrnn.data.tokenizer import PAD_TOKEN
from textrnn.files import write_error
from textrnn.inference.checkpoints import CheckpointError, read_tokenizer
from textrnn.inference.classifier import Classifier, Prediction, load_checkpoint  # noqa: F401  (Prediction: the API it returns)
from textrnn.nn import RecurrentEncoder

EXTRA = 'pip install "textrnn[onnx]"'
FORMAT = "textrnn-onnx"
FORMAT_VERSION = 1
OPSET = 17  # ONNX Runtime >= 1.12 runs it; every operator used here exists since opset 14
FILES = ("model.onnx", "tokenizer.json", "labels.json", "model.json")
INPUTS = ("ids", "lengths")
OUTPUT = "probs"
PARITY_TOLERANCE = 1e-4  # max |p_onnx - p_torch| the export check accepts
PROBE_LENGTHS = (1, 2, 3, 5, 8, 13, 21, 34)  # the export check's batch: one text of each length


class MissingExtraError(ImportError, ValueError):
    """The optional ``onnx`` extra is not installed (a ValueError too, so the CLI prints one line)."""


def require(module: str, task: str = "ONNX export and inference") -> ModuleType:
    """Import ``module`` from the ``onnx`` extra, or raise `MissingExtraError` saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(f"{task} needs the optional extra: {EXTRA} (cannot import {module!r}: {err})") from None


class ProbsModel(nn.Module):
    """The exported graph: a text classifier's logits turned into float32 class probabilities."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        logits = self.model(ids, lengths).float()  # (B, C)
        return logits.sigmoid() if getattr(self.model, "multi_label", False) else logits.softmax(dim=-1)


def probe_batch(vocab_size: int, pad_id: int, lengths: tuple[int, ...] = PROBE_LENGTHS, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Right-padded random ``ids`` (B, max(lengths)) of real tokens (never ``pad_id``) and their ``lengths`` (B,)."""
    generator = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths, dtype=torch.long)  # (B,)
    ids = torch.randint(0, vocab_size, (len(lengths), max(lengths)), generator=generator)  # (B, T)
    ids = torch.where(ids == pad_id, (pad_id + 1) % vocab_size, ids)
    ids[torch.arange(max(lengths)) >= lengths_t.unsqueeze(1)] = pad_id
    return ids, lengths_t


def export_onnx(model: nn.Module, path: Union[str, Path], vocab_size: int, pad_id: int = 0) -> Path:
    """Write ``model`` (``forward(ids, lengths)`` -> logits) as ONNX with dynamic batch and length.

    A copy of the model is exported, on the CPU in float32 and eval mode, with every recurrent encoder on
    its fused kernels: an ``implementation="explicit"`` encoder reads the same parameters and gives the same
    numbers, but its Python loop over time steps would be traced for one length only. ``vocab_size`` and
    ``pad_id`` shape the example batch the exporter traces.
    """
    require("onnx", "ONNX export")  # torch's exporter imports it; fail here with the install line
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = ProbsModel(copy.deepcopy(model)).to("cpu", torch.float32).eval()
    for module in graph.modules():
        if isinstance(module, RecurrentEncoder):
            module.implementation = "fused"
    example = probe_batch(vocab_size, pad_id, lengths=(8, 3))
    with warnings.catch_warnings():
        # The exporter says the TorchScript path is legacy (the dynamo one cannot keep RNN lengths
        # dynamic: see the module docstring) and warns about batch sizes with RNN initial states, which
        # do not apply: the initial state is built from the batch's own size inside the graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            example,
            str(path),
            dynamo=False,
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes={"ids": {0: "batch", 1: "length"}, "lengths": {0: "batch"}, OUTPUT: {0: "batch"}},
            opset_version=OPSET,
        )
    return path


def onnx_session(path: Union[str, Path], providers: list[Any] | None = None, threads: int = 0) -> Any:
    """An ONNX Runtime ``InferenceSession`` on ``path`` (CPU unless ``providers`` say otherwise; 0 threads: ORT's default)."""
    ort = require("onnxruntime", "ONNX inference")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types for unreadable models
        raise CheckpointError(f"{str(path)!r} is not a model ONNX Runtime can load: {err}") from err


def run_session(session: Any, ids: Tensor, lengths: Tensor) -> Tensor:
    """Probabilities (B, C) from an exported model's session for one padded batch."""
    feed = {"ids": ids.to("cpu", torch.long).numpy(), "lengths": lengths.to("cpu", torch.long).numpy()}
    return torch.from_numpy(session.run([OUTPUT], feed)[0])


def parity(model: nn.Module, session: Any, ids: Tensor, lengths: Tensor) -> float:
    """max |p_onnx - p_torch| over one padded batch."""
    with torch.inference_mode():
        expected = ProbsModel(model).eval()(ids, lengths)  # (B, C)
    return float((run_session(session, ids, lengths) - expected).abs().max())


def export(ckpt_path: Union[str, Path], output: Union[str, Path]) -> Path:
    """Export a textrnn checkpoint to the folder ``output`` (created; the four files replaced) and check it.

    The four files are written into a temporary folder beside ``output`` and moved into it only once all of
    them are written and the model passed the parity check: a full disk, a failed check or a crash leaves
    ``output`` as it was.

    Raises:
        MissingExtraError: onnx or onnxruntime is not installed.
        FileNotFoundError, CheckpointError: the checkpoint cannot be used (see `textrnn.load`).
        ValueError: ``output`` is a file, or the exported model disagrees with torch by more than 1e-4.
        textrnn.files.WriteError: (an OSError) a file could not be written, e.g. the disk is full (ENOSPC).
    """
    require("onnx", "ONNX export")
    require("onnxruntime", "ONNX export")
    ckpt_path, output = Path(ckpt_path), Path(output)
    if ckpt_path.is_dir():
        raise ValueError(f"{str(ckpt_path)!r} is a folder (an exported model?); export takes a .ckpt file")
    if output.exists() and not output.is_dir():
        raise ValueError(f"--output {str(output)!r} is a file; give a folder to write {', '.join(FILES)} into")
    source = load_checkpoint(ckpt_path, device="cpu")
    model = source.model.to("cpu", torch.float32).eval()
    target = Path(os.path.realpath(output))  # the staging folder on the same file system as the files
    stage = target.parent / f".{target.name}.export-{uuid.uuid4().hex[:8]}"
    try:
        stage.mkdir(parents=True)
        error = _write_export(source, model, ckpt_path, stage)
        if not error <= PARITY_TOLERANCE:  # nothing is moved into `output`: no folder that looks usable
            raise ValueError(f"the exported model disagrees with torch by {error:.2e} (limit {PARITY_TOLERANCE:.0e}) "
                             f"on texts of lengths {list(PROBE_LENGTHS)}; please report it with the checkpoint's config")
        for name in FILES:  # model.json, the card, last
            with open(stage / name, "rb+") as handle:
                os.fsync(handle.fileno())
        output.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            os.replace(stage / name, output / name)
    except Exception as err:
        failure = write_error(output, err, "the export folder", kept="nothing in it was replaced")
        if failure is None:
            raise
        raise failure from err
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return output


def _write_export(source: Classifier, model: nn.Module, ckpt_path: Path, folder: Path) -> float:
    """Write the four files of an export of ``source`` into ``folder``; returns the parity error."""
    hparams = {k: v for k, v in dict(model.hparams).items() if not str(k).startswith("_")}
    vocab_size = source.tokenizer.get_vocab_size(with_added_tokens=True)
    export_onnx(model, folder / "model.onnx", vocab_size, source.pad_id)

    ids, lengths = probe_batch(vocab_size, source.pad_id)
    error = parity(model, onnx_session(folder / "model.onnx"), ids, lengths)
    if not error <= PARITY_TOLERANCE:
        return error
    source.tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "labels.json").write_text(json.dumps(source.label_names, ensure_ascii=False, indent=1) + "\n",
                                        encoding="utf-8")
    truncation = source.tokenizer.truncation or {}
    card = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "hyper_parameters": hparams,
        "num_classes": len(source.label_names),
        "vocab_size": vocab_size,
        "pad_id": source.pad_id,
        "max_length": truncation.get("max_length"),
        "inputs": {"ids": "int64 (batch, length), right-padded with pad_id", "lengths": "int64 (batch,), >= 1"},
        "outputs": {OUTPUT: "float32 (batch, num_classes), " + (
            "sigmoid probabilities, one per label" if source.multi_label else "softmax probabilities")},
        "multi_label": source.multi_label,
        **({"thresholds": source.thresholds, "threshold": float(model.hparams.threshold)} if source.multi_label else {}),
        "opset": OPSET,
        "export_parity": error,
        "textrnn_version": textrnn.__version__,
        "torch_version": torch.__version__.split("+")[0],
        "source_checkpoint": ckpt_path.name,
    }
    (folder / "model.json").write_text(json.dumps(card, indent=1, default=str) + "\n", encoding="utf-8")
    return error


class OnnxClassifier(Classifier):
    """A `Classifier` whose forward pass is an exported ``model.onnx`` run by ONNX Runtime.

    Build one with ``textrnn.load(folder)``.

    Args:
        session: an ONNX Runtime session on a model exported by `export`.
        tokenizer: the vocabulary the model was trained with.
        label_names: class names; probability i is label_names[i].
        pad_id: the id the batches are right-padded with.
        model_class: the exported model's class name (shown by ``repr``).
        device: "cpu", or "cuda"/"cuda:N" with onnxruntime-gpu's CUDA provider.
    """

    def __init__(self, session: Any, tokenizer: Any, label_names: list[str], pad_id: int,
                 model_class: str = "model", device: torch.device = torch.device("cpu"),
                 thresholds: list[float] | None = None) -> None:
        self.multi_label = thresholds is not None  # the exported per-label thresholds (model.json)
        self.thresholds = None if thresholds is None else [float(t) for t in thresholds]
        self.session = session
        self.model = None  # no torch model: `_probs` runs the session
        self.model_class = model_class
        self.tokenizer = tokenizer
        self.label_names = [str(name) for name in label_names]
        self.pad_id = pad_id
        self.device = device

    def _probs(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return run_session(self.session, ids, lengths)

    def __repr__(self) -> str:
        return f"OnnxClassifier({self.model_class}, labels={self.label_names}, device={str(self.device)!r})"


def _providers(device: Union[str, torch.device, None]) -> tuple[torch.device, list[Any]]:
    """The device an exported model runs on and the ONNX Runtime providers for it."""
    available = require("onnxruntime", "ONNX inference").get_available_providers()
    has_cuda = "CUDAExecutionProvider" in available
    if device is None:
        device = "cuda" if has_cuda else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}; valid devices look like 'cpu', 'cuda' or 'cuda:0'") from err
    if resolved.type == "cpu":
        return resolved, ["CPUExecutionProvider"]
    if resolved.type != "cuda" or not has_cuda:
        raise ValueError(f"device {str(device)!r} was asked for, but this onnxruntime offers only {available}; "
                         "use device='cpu' (or install onnxruntime-gpu for 'cuda')")
    return resolved, [("CUDAExecutionProvider", {"device_id": resolved.index or 0}), "CPUExecutionProvider"]


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{str(path)!r} ({what}) is not valid JSON: {err}") from None


def _whole(value: Any, low: int, high: int | None = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)


def _check_files(folder: Path) -> None:
    """Every file of the export is a regular file inside ``folder`` (a link to a file inside is fine)."""
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"{str(folder)!r} is a folder but not an exported textrnn model: it lacks {missing} "
                              "(write one with `textrnn export --ckpt_path CKPT --output DIR`, or give a .ckpt file)")
    root = folder.resolve()
    for name in FILES:
        target = (folder / name).resolve()
        if not target.is_relative_to(root):
            raise CheckpointError(f"{str(folder / name)!r} is a link to {str(target)!r}, outside the folder; an exported "
                                  "model's files must be inside it (copy the file in instead of linking it)")


def _check_card(card: Any, path: Path) -> tuple[type, int, int, int]:
    """The model class, number of classes, vocabulary size and pad id of a checked ``model.json``: every entry
    textrnn reads has its type and range, and the model's arguments are the class's own (as in a checkpoint)."""
    from textrnn.inference.checkpoints import allowed_model, check_hparams
    from textrnn.models.classifier import TextClassifier

    where = repr(str(path))
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CheckpointError(f"{where} is not a textrnn export card (format {FORMAT!r})")
    version = card.get("format_version")
    if not _whole(version, 0) or version != FORMAT_VERSION:
        raise CheckpointError(f"{str(path.parent)!r} was exported in format version {version!r}; this "
                              f"textrnn {textrnn.__version__} reads version {FORMAT_VERSION}: export it again")
    from textrnn.nn.checks import MAX_VOCAB

    for key, valid, what in (
        ("num_classes", lambda v: _whole(v, 2, MAX_VOCAB), f"a whole number from 2 to {MAX_VOCAB:,}"),
        ("vocab_size", lambda v: _whole(v, 1, MAX_VOCAB), f"a whole number from 1 to {MAX_VOCAB:,}"),
        ("pad_id", lambda v: _whole(v, 0, card.get("vocab_size", 0) - 1 if _whole(card.get("vocab_size"), 1) else None),
         "a token id below vocab_size"),
        ("max_length", lambda v: v is None or _whole(v, 1), "null or a whole number >= 1"),
        ("model_class", lambda v: isinstance(v, str), "a class name such as 'textrnn.models.text_rnn.TextRNN'"),
        ("hyper_parameters", lambda v: isinstance(v, dict), "a JSON object of the model's arguments"),
        ("opset", lambda v: v is None or _whole(v, 1), "a whole number >= 1"),
        ("export_parity", lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  and math.isfinite(v) and v >= 0), "a finite number >= 0"),
    ):
        if key not in card and key in ("opset", "export_parity", "max_length"):
            continue
        if key not in card:
            raise CheckpointError(f"{where} lacks {key!r} ({what}); export the checkpoint again")
        if not valid(card[key]):
            raise CheckpointError(f"{where}: {key} is {card[key]!r}; it must be {what}")
    for key in ("textrnn_version", "torch_version", "source_checkpoint"):
        if key in card and not isinstance(card[key], str):
            raise CheckpointError(f"{where}: {key} is {card[key]!r}; it must be a string")
    cls = allowed_model(card["model_class"], f"'model_class' in {where}")
    if not issubclass(cls, TextClassifier):
        raise CheckpointError(f"refusing model class {card['model_class']!r} named by 'model_class' in {where}: "
                              f"a {cls.__name__} is not a {TextClassifier.__name__}")
    hparams = check_hparams(cls, card["hyper_parameters"], where)
    for key in ("num_classes", "vocab_size", "pad_id"):
        if key in hparams and hparams[key] != card[key]:
            raise CheckpointError(f"{where}: hyper_parameters {key} is {hparams[key]!r} but {key} is {card[key]!r}; "
                                  "the card contradicts itself")
    return cls, card["num_classes"], card["vocab_size"], card["pad_id"]


def _check_labels(labels: Any, path: Path, num_classes: int) -> list[str]:
    if not isinstance(labels, list) or not labels or not all(isinstance(name, str) for name in labels):
        raise CheckpointError(f"{str(path)!r} must hold a JSON list of class names, got {labels!r}")
    duplicates = sorted({name for name in labels if labels.count(name) > 1})
    if duplicates:
        raise CheckpointError(f"{str(path)!r}: the class names {labels} repeat {duplicates}; every class needs its own name")
    if len(labels) != num_classes:
        raise CheckpointError(f"{str(path.parent)!r}: {len(labels)} class names in labels.json for a model of "
                              f"{num_classes} classes (model.json)")
    return labels


def _check_graph(session: Any, path: Path, num_classes: int, vocab_size: int, pad_id: int) -> None:
    """The graph takes int64 ``ids`` and ``lengths``, accepts every token id of the vocabulary and returns
    ``num_classes`` float32 probabilities per text (run once on a one-token text of the highest id)."""
    where = repr(str(path))
    inputs = {i.name: i.type for i in session.get_inputs()}
    outputs = [(o.name, o.type, o.shape) for o in session.get_outputs()]
    if sorted(inputs) != sorted(INPUTS) or [o[0] for o in outputs] != [OUTPUT]:
        raise CheckpointError(f"{where} has inputs {list(inputs)} and outputs {[o[0] for o in outputs]}; an "
                              f"exported textrnn model has inputs {list(INPUTS)} and output [{OUTPUT!r}]")
    wrong = [f"{name} is {kind}" for name, kind in inputs.items() if kind != "tensor(int64)"]
    wrong += [f"{OUTPUT} is {outputs[0][1]}"] if outputs[0][1] != "tensor(float)" else []
    shape = outputs[0][2]
    if wrong or len(shape) != 2:
        raise CheckpointError(f"{where}: {'; '.join(wrong) or f'{OUTPUT} has shape {shape}'}; an exported textrnn "
                              f"model takes int64 ids and lengths and returns float32 {OUTPUT} (batch, classes)")
    if isinstance(shape[1], int) and shape[1] != num_classes:
        raise CheckpointError(f"{where} returns {shape[1]} class probabilities per text, but model.json and "
                              f"labels.json name {num_classes} classes; the files do not belong together")
    ids = torch.tensor([[vocab_size - 1 if vocab_size - 1 != pad_id else 0]])
    try:
        probs = run_session(session, ids, torch.tensor([1]))
    except Exception as err:  # onnxruntime's own error types: an id beyond the graph's embedding, mostly
        raise CheckpointError(f"{where} cannot classify a text of token id {int(ids)} (tokenizer.json has "
                              f"{vocab_size} tokens): {' '.join(str(err).split())[:300]}") from None
    if tuple(probs.shape) != (1, num_classes):
        raise CheckpointError(f"{where} returns {tuple(probs.shape)[1:]} class probabilities per text, but model.json "
                              f"and labels.json name {num_classes} classes; the files do not belong together")


def load_exported(folder: Union[str, Path], device: Union[str, torch.device, None] = None) -> OnnxClassifier:
    """An `OnnxClassifier` from a folder written by `export` (``textrnn.load(folder)`` lands here).

    Every file is checked as strictly as a checkpoint before use: the four files are regular files inside
    the folder (no links out of it); ``model.json`` has every entry of its type and range and names an
    allowed model class with its own arguments; ``labels.json`` is a list of distinct names, as many as
    the graph returns probabilities; ``tokenizer.json`` is a tokenizer with the card's vocabulary size,
    pad id and max_length; the graph has the right inputs and outputs and runs on the vocabulary's last id.

    Raises:
        MissingExtraError: onnxruntime is not installed.
        CheckpointError: a file is missing, unreadable, out of range, or the files do not belong together.
    """
    folder = Path(folder)
    _check_files(folder)
    resolved, providers = _providers(device)
    card = _read_json(folder / "model.json", "the model card")
    cls, num_classes, vocab_size, pad_id = _check_card(card, folder / "model.json")
    labels = _check_labels(_read_json(folder / "labels.json", "the class names"), folder / "labels.json", num_classes)
    where = f"{str(folder / 'tokenizer.json')!r}"
    try:
        text = (folder / "tokenizer.json").read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CheckpointError(f"{where} is not valid UTF-8 JSON: {err}") from None
    tokenizer = read_tokenizer(text, where)
    tokens = tokenizer.get_vocab_size(with_added_tokens=True)
    if tokens != vocab_size:
        raise CheckpointError(f"{str(folder)!r}: tokenizer.json has {tokens} tokens but the model was exported "
                              f"for {vocab_size}; the files do not belong together")
    if tokenizer.token_to_id(PAD_TOKEN) not in (None, pad_id):
        raise CheckpointError(f"{str(folder)!r}: tokenizer.json pads with id {tokenizer.token_to_id(PAD_TOKEN)} but "
                              f"model.json says pad_id {pad_id}; the files do not belong together")
    truncation = (tokenizer.truncation or {}).get("max_length")
    card_max_length = card.get("max_length")
    if card_max_length is not None and truncation != card_max_length:
        raise CheckpointError(f"{str(folder)!r}: tokenizer.json truncates texts at {truncation!r} tokens but model.json "
                              f"says max_length {card_max_length}; the files do not belong together")
    session = onnx_session(folder / "model.onnx", providers)
    _check_graph(session, folder / "model.onnx", num_classes, vocab_size, pad_id)
    thresholds = None
    if card.get("multi_label", False) is not False:
        thresholds = card.get("thresholds")
        if card.get("multi_label") is not True or not isinstance(thresholds, list) or len(thresholds) != len(labels) or not all(
                isinstance(t, (int, float)) and not isinstance(t, bool) and 0 <= t <= 1 for t in thresholds):
            raise CheckpointError(f"{str(folder / 'model.json')!r}: a multi-label export needs multi_label true and "
                                  f"{len(labels)} thresholds from 0 to 1, got multi_label {card.get('multi_label')!r}, "
                                  f"thresholds {thresholds!r}")
    return OnnxClassifier(session, tokenizer, labels, pad_id, cls.__name__, resolved, thresholds)
