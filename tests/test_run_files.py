"""Run files as a user expects them: checkpoints follow the umask like every other file a run writes, and
drawing the report's figures leaves matplotlib's backend (the user's, e.g. a notebook's) alone."""

import os

import pytest
import torch

from textrnn.inference.checkpoints import atomic_torch_save


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_checkpoints_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_torch_save({"weights": torch.zeros(2)}, tmp_path / "last.ckpt")
        (tmp_path / "metrics.csv").write_text("epoch\n")  # how every other run file is written
    finally:
        os.umask(old)
    mode = (tmp_path / "last.ckpt").stat().st_mode & 0o777
    assert mode == 0o666 & ~umask == (tmp_path / "metrics.csv").stat().st_mode & 0o777
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["weights"].shape == (2,)


def test_the_confusion_plot_keeps_the_callers_backend(tmp_path):
    import matplotlib
    import numpy as np

    from textrnn.callbacks.report import plot_confusion

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # the caller's choice, e.g. a notebook's inline backend
    try:
        plot_confusion(np.array([[3, 1], [0, 4]]), ["business", "entertainment"], tmp_path / "confusion_matrix.png")
        assert matplotlib.get_backend() == "svg"  # a global matplotlib.use inside would say agg
    finally:
        matplotlib.use(before)
    assert (tmp_path / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
