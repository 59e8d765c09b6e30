"""``textrnn.load(path)``: a checkpoint file (`textrnn.inference.classifier.load_checkpoint`, torch) or a
folder written by ``textrnn export`` (`textrnn.inference.onnx.load_exported`, ONNX Runtime).

Its own module so that neither of the two readers imports the other: the ONNX classifier derives from
`Classifier`, and only this dispatcher knows both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import torch

from textrnn.inference.classifier import Classifier, load_checkpoint


def load(path: Union[str, Path], device: Union[str, torch.device, None] = None) -> Classifier:
    """Rebuild a trained classifier from a textrnn checkpoint file alone, or from an exported folder.

    Args:
        path: a ``.ckpt`` written while training a textrnn text classifier (e.g. ``best-....ckpt``), or a
            folder written by ``textrnn export`` (needs ``textrnn[onnx]``; see `textrnn.inference.onnx`).
        device: where the model runs; None picks "cuda" when available, else "cpu".

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: (a ValueError) the checkpoint or the folder cannot be used; the message names the
            file, the bad value and what is valid (see `load_checkpoint` and `load_exported`).
    """
    if Path(path).is_dir():  # a folder written by `textrnn export`: run it through onnxruntime
        from textrnn.inference.onnx import load_exported  # the optional extra: imported only when needed

        return load_exported(path, device)
    return load_checkpoint(path, device)
