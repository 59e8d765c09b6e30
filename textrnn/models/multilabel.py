"""Multi-label decisions and class weights: plain numpy/torch, shared by the models, the report, every
prediction path and the TF-IDF baseline.

- A label is chosen when its sigmoid probability is **at or above** its threshold (`decide`): one global
  threshold (``threshold``, 0.5 by default) or one per label, tuned on the validation split to maximise
  that label's F1 (`tune_thresholds`). ``top_k`` is the alternative: the k most probable labels.
- `balanced_class_weights` (single-label cross-entropy) and `balanced_pos_weight` (multi-label BCE) turn
  the training split's label counts into loss weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Optional, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[Sequence[float]]]
WEIGHT_CHOICES = ("balanced",)


def decide(probs: ArrayLike, thresholds: Union[float, Sequence[float], np.ndarray, torch.Tensor],
           top_k: Optional[int] = None) -> np.ndarray:
    """Chosen labels, a boolean (N, L) array: ``probs >= thresholds`` (a number, or one per label), or with
    ``top_k`` the k most probable labels of each row (ties: the lower label index first)."""
    probs = np.asarray(probs.detach().cpu() if isinstance(probs, torch.Tensor) else probs, dtype=np.float64)
    probs = probs.reshape(-1, probs.shape[-1]) if probs.size else probs.reshape(0, probs.shape[-1] if probs.ndim else 0)
    if top_k is not None:
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= max(1, probs.shape[1]):
            raise ValueError(f"top_k must be an integer from 1 to the number of labels ({probs.shape[1]}), got {top_k!r}")
        order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]  # (N, k)
        chosen = np.zeros(probs.shape, dtype=bool)
        np.put_along_axis(chosen, order, True, axis=1)
        return chosen
    t = np.asarray(thresholds.detach().cpu() if isinstance(thresholds, torch.Tensor) else thresholds, dtype=np.float64)
    return probs >= t


def check_threshold(value: Any, name: str = "threshold") -> float:
    """``value`` as a threshold: a finite number in [0, 1], else one clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number from 0 to 1, got {value!r}")
    return float(value)


def tune_thresholds(probs: ArrayLike, targets: ArrayLike, default: float = 0.5) -> list[float]:
    """Per-label thresholds that maximise each label's F1 on (``probs``, ``targets``), both (N, L).

    For each label the candidate cut-offs are the midpoints between consecutive distinct probabilities
    (and just below the lowest): choosing the top k by probability as positive gives F1 = 2 TP / (k + P),
    P the label's positives. The best k wins;
    among equal F1 the cut-off nearest ``default``. A label with no positive example keeps ``default``
    (nothing to tune on). Thresholds lie in [0, 1]."""
    probs = np.asarray(probs.detach().cpu() if isinstance(probs, torch.Tensor) else probs, dtype=np.float64)
    targets = np.asarray(targets.detach().cpu() if isinstance(targets, torch.Tensor) else targets) > 0.5
    out = []
    for j in range(probs.shape[1] if probs.ndim == 2 else 0):
        p, y = probs[:, j], targets[:, j]
        positives = int(y.sum())
        if positives == 0 or len(p) == 0:
            out.append(float(default))
            continue
        order = np.argsort(-p, kind="stable")
        ps, tp = p[order], np.cumsum(y[order])  # (N,): probabilities high to low, true positives in the top k
        k = np.arange(1, len(p) + 1)
        ends = np.append(ps[:-1] > ps[1:], True)  # a cut can fall only after the last of equal probabilities
        f1 = np.where(ends, 2 * tp / (k + positives), -1.0)
        cuts = np.append((ps[:-1] + ps[1:]) / 2, max(0.0, ps[-1] - 1e-6))  # choosing the top k: p >= cuts[k-1]
        top = f1.max()
        ties = np.flatnonzero(f1 >= top - 1e-12)
        best = float(cuts[ties[np.argmin(np.abs(cuts[ties] - default))]])
        out.append(float(min(1.0, max(0.0, best))))
    return out


def balanced_class_weights(counts: Sequence[int]) -> list[float]:
    """scikit-learn's "balanced" class weights: n / (C * count_c) (a class without examples: weight 0)."""
    counts = [int(c) for c in counts]
    n, c = sum(counts), len(counts)
    return [n / (c * count) if count else 0.0 for count in counts]


def balanced_pos_weight(counts: Sequence[int], n: int) -> list[float]:
    """BCE's ``pos_weight`` per label: negatives / positives (a label without positives: 1)."""
    return [(n - int(count)) / int(count) if count else 1.0 for count in counts]


def check_weights(value: Any, size: int, name: str) -> None:
    """``value`` is None, "balanced" or one finite number >= 0 per label/class (and not all zero)."""
    if value is None or value in WEIGHT_CHOICES:
        return
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be 'balanced' or a list of {size} numbers, got {value!r}")
    if len(value) != size or not all(not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
                                     and v >= 0 for v in value) or not any(value):
        raise ValueError(f"{name} must be 'balanced' or a list of {size} finite numbers >= 0 (one per "
                         f"{'label' if name == 'pos_weight' else 'class'}, not all 0), got {list(value)!r}")
