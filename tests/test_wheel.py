"""The package as a user installs it: built as a wheel (not an editable install), installed into a fresh
folder, and run from an empty directory with nothing of the source tree on the path. The shipped config
is named, not given as a path (``--config textcnn``), so it must come from inside the wheel.

The dependencies (torch, lightning, ...) come from the current environment; only ``textrnn`` itself comes
from the wheel, which the test checks. About 40 s on 2 CPU cores: building and installing take a few
seconds, ``fit --trainer.fast_dev_run true`` on BBC News (one batch each of train, val and test) about 20,
``classify`` about 10.
"""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BBC_CLASSES = {"business", "entertainment", "politics", "sports", "tech"}


def run(args: list, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


pytestmark = pytest.mark.slow  # builds and installs the wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from a copy of the sources (so no build/ lands in the checkout), installed with
    ``pip install --no-deps --target``; returns the target folder."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("configs", "textrnn"):  # textrnn/configs stays a link to configs/, as in the checkout
        shutil.copytree(REPO / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", root / "dist", source], root)
    (wheel,) = (root / "dist").glob("textrnn-*.whl")
    target = root / "site"
    run([*pip, "install", "--no-deps", "--no-index", "--target", target, wheel], root)
    return target


@pytest.fixture
def user_env(installed) -> dict:
    """The environment of a user's shell: the installed wheel on the path, not the source tree."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TEXTRNN_TRACEBACK")}
    env.update(PYTHONPATH=str(installed), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1")
    return env


def test_wheel_fits_a_shipped_config_and_classifies_from_an_empty_directory(installed, user_env, tmp_path):
    textrnn = installed / "bin" / "textrnn"
    where = run([sys.executable, "-c", "import textrnn; print(textrnn.__file__)"], tmp_path, user_env).stdout
    assert Path(where.strip()).is_relative_to(installed)  # the wheel's copy, not the checkout's

    run([textrnn, "fit", "--config", "textcnn", "--trainer.fast_dev_run", "true",
         "--trainer.enable_progress_bar", "false"], tmp_path, user_env)
    checkpoint = tmp_path / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file()
    assert (tmp_path / "report.json").is_file()  # the config's ClassificationReport ran on the test split

    texts = ["The striker scored twice in the cup final", "Shares fell after the bank's profit warning"]
    (tmp_path / "news.txt").write_text("\n".join(texts) + "\n")
    run([textrnn, "classify", "--ckpt_path", checkpoint, "--input", "news.txt", "--output", "labelled.csv",
         "--device", "cpu"], tmp_path, user_env)
    with (tmp_path / "labelled.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["text"] for row in rows] == texts
    for row in rows:  # one of BBC's classes, and the probabilities of the five classes sum to one
        assert row["label"] in BBC_CLASSES
        assert sum(float(row[f"prob_{name}"]) for name in BBC_CLASSES) == pytest.approx(1.0, abs=1e-3)
