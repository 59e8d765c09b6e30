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
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Union

import torch
from torch import Tensor, nn

import textrnn
from textrnn.data.tokenizer import PAD_TOKEN
from textrnn.inference.checkpoints import CheckpointError, read_tokenizer
from textrnn.inference.classifier import Classifier, Prediction  # noqa: F401  (Prediction: the API it returns)
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

    Raises:
        MissingExtraError: onnx or onnxruntime is not installed.
        FileNotFoundError, CheckpointError: the checkpoint cannot be used (see `textrnn.load`).
        ValueError: ``output`` is a file, or the exported model disagrees with torch by more than 1e-4.
    """
    require("onnx", "ONNX export")
    require("onnxruntime", "ONNX export")
    ckpt_path, output = Path(ckpt_path), Path(output)
    if ckpt_path.is_dir():
        raise ValueError(f"{str(ckpt_path)!r} is a folder (an exported model?); export takes a .ckpt file")
    if output.exists() and not output.is_dir():
        raise ValueError(f"--output {str(output)!r} is a file; give a folder to write {', '.join(FILES)} into")
    source = textrnn.load(ckpt_path, device="cpu")
    model = source.model.to("cpu", torch.float32).eval()
    hparams = {k: v for k, v in dict(model.hparams).items() if not str(k).startswith("_")}
    vocab_size = source.tokenizer.get_vocab_size(with_added_tokens=True)
    export_onnx(model, output / "model.onnx", vocab_size, source.pad_id)

    ids, lengths = probe_batch(vocab_size, source.pad_id)
    error = parity(model, onnx_session(output / "model.onnx"), ids, lengths)
    if not error <= PARITY_TOLERANCE:
        (output / "model.onnx").unlink()  # no half-written folder that looks usable
        raise ValueError(f"the exported model disagrees with torch by {error:.2e} (limit {PARITY_TOLERANCE:.0e}) "
                         f"on texts of lengths {list(PROBE_LENGTHS)}; please report it with the checkpoint's config")

    source.tokenizer.save(str(output / "tokenizer.json"))
    (output / "labels.json").write_text(json.dumps(source.label_names, ensure_ascii=False, indent=1) + "\n",
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
    (output / "model.json").write_text(json.dumps(card, indent=1, default=str) + "\n", encoding="utf-8")
    return output


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


def load_exported(folder: Union[str, Path], device: Union[str, torch.device, None] = None) -> OnnxClassifier:
    """An `OnnxClassifier` from a folder written by `export` (``textrnn.load(folder)`` lands here).

    Raises:
        MissingExtraError: onnxruntime is not installed.
        CheckpointError: a file is missing or unreadable, or the files do not belong together.
    """
    folder = Path(folder)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"{str(folder)!r} is a folder but not an exported textrnn model: it lacks {missing} "
                              "(write one with `textrnn export --ckpt_path CKPT --output DIR`, or give a .ckpt file)")
    resolved, providers = _providers(device)
    card = _read_json(folder / "model.json", "the model card")
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CheckpointError(f"{str(folder / 'model.json')!r} is not a textrnn export card (format {FORMAT!r})")
    if card.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{str(folder)!r} was exported in format version {card.get('format_version')!r}; this "
                              f"textrnn {textrnn.__version__} reads version {FORMAT_VERSION}: export it again")
    labels = _read_json(folder / "labels.json", "the class names")
    if not isinstance(labels, list) or not labels or not all(isinstance(name, str) for name in labels):
        raise CheckpointError(f"{str(folder / 'labels.json')!r} must hold a JSON list of class names, got {labels!r}")
    if card.get("num_classes") != len(labels):
        raise CheckpointError(f"{str(folder)!r}: {len(labels)} class names in labels.json for a model of "
                              f"{card.get('num_classes')!r} classes (model.json)")
    tokenizer = read_tokenizer((folder / "tokenizer.json").read_text(encoding="utf-8"),
                               f"{str(folder / 'tokenizer.json')!r}")
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    if card.get("vocab_size") != vocab_size:
        raise CheckpointError(f"{str(folder)!r}: tokenizer.json has {vocab_size} tokens but the model was exported "
                              f"for {card.get('vocab_size')!r}; the files do not belong together")
    pad_id = card.get("pad_id", tokenizer.token_to_id(PAD_TOKEN))
    if not isinstance(pad_id, int) or not 0 <= pad_id < vocab_size:
        raise CheckpointError(f"{str(folder)!r}: pad_id {pad_id!r} in model.json is not a token id below {vocab_size}")
    session = onnx_session(folder / "model.onnx", providers)
    names = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
    if sorted(names[0]) != sorted(INPUTS) or names[1] != [OUTPUT]:
        raise CheckpointError(f"{str(folder / 'model.onnx')!r} has inputs {names[0]} and outputs {names[1]}; an "
                              f"exported textrnn model has inputs {list(INPUTS)} and output [{OUTPUT!r}]")
    model_class = str(card.get("model_class", "model")).rpartition(".")[2]
    thresholds = None
    if card.get("multi_label", False) is not False:
        thresholds = card.get("thresholds")
        if card.get("multi_label") is not True or not isinstance(thresholds, list) or len(thresholds) != len(labels) or not all(
                isinstance(t, (int, float)) and not isinstance(t, bool) and 0 <= t <= 1 for t in thresholds):
            raise CheckpointError(f"{str(folder / 'model.json')!r}: a multi-label export needs multi_label true and "
                                  f"{len(labels)} thresholds from 0 to 1, got multi_label {card.get('multi_label')!r}, "
                                  f"thresholds {thresholds!r}")
    return OnnxClassifier(session, tokenizer, labels, pad_id, model_class, resolved, thresholds)
