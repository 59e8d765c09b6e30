"""Shared pytest setup: offline Hugging Face, the repo on sys.path, tiny data fixtures, one trained run.

The offline variables are set here, at import time, because `datasets` and `huggingface_hub` read
them when first imported: set later, a Hub request would wait on a network these machines lack.
"""

import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # 2 shared cores: no thread pools per test
# Prepared data goes to a folder of this test session, never the user's ~/.cache/textrnn: a test run
# neither reads a cache an earlier run left nor leaves one behind (subprocesses inherit the variable).
import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

os.environ["TEXTRNN_CACHE_DIR"] = tempfile.mkdtemp(prefix="textrnn-test-cache-")
atexit.register(shutil.rmtree, os.environ["TEXTRNN_CACHE_DIR"], ignore_errors=True)

from types import SimpleNamespace  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

DATA = REPO / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The repo's data/ folder of tiny fixtures (written by data/make_fixtures.py)."""
    return DATA


@pytest.fixture(scope="session")
def tiny_en_csv() -> str:
    """125 English lines, labels sports/tech/food (120 after deduplication)."""
    return str(DATA / "tiny_en.csv")


@pytest.fixture(scope="session")
def tiny_zh_csv() -> str:
    """90 Chinese lines, labels 体育/科技/美食."""
    return str(DATA / "tiny_zh.csv")


@pytest.fixture
def tiny_datamodule(tiny_en_csv):
    """A factory of TextDataModules over tiny_en.csv; keyword arguments override the defaults."""
    from textrnn.data import TextDataModule

    def make(**kwargs):
        options = {"dataset": "csv", "data_files": tiny_en_csv, "batch_size": 8, "max_length": 64}
        options.update(kwargs)
        return TextDataModule(**options)

    return make


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_en_csv) -> SimpleNamespace:
    """A finished 2-epoch run of a tiny TextRNN on tiny_en.csv, trained once per session and shared by every
    test that only reads it: its best checkpoint (``ckpt``), resolved ``config.yaml`` and the ``cli``
    (trainer, model, datamodule). Tests copy the files before changing them."""
    from textrnn.cli.app import run_cli
    from tiny_args import tiny_fit_args

    root = tmp_path_factory.mktemp("tiny_run")
    cli = run_cli(tiny_fit_args(root, tiny_en_csv))
    return SimpleNamespace(ckpt=Path(cli.trainer.checkpoint_callback.best_model_path),
                           config=next(root.rglob("config.yaml")), cli=cli)
