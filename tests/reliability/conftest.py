"""Shared by the reliability tests: a tiny TextRNN trained once per session on data/tiny_en.csv."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from datasets.utils import logging as datasets_logging

from tiny_args import tiny_fit_args

# `datasets` makes its log handler on first use, on whatever sys.stderr is then: inside a test with
# capsys that stream is closed afterwards, and a later log line prints a "Logging error" traceback.
datasets_logging.get_verbosity()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_en_csv) -> SimpleNamespace:
    """A finished 2-epoch run: its best checkpoint (``ckpt``) and resolved ``config.yaml``."""
    from textrnn.cli.app import run_cli

    root = tmp_path_factory.mktemp("tiny_run")
    cli = run_cli(tiny_fit_args(root, tiny_en_csv))
    return SimpleNamespace(ckpt=Path(cli.trainer.checkpoint_callback.best_model_path),
                           config=next(root.rglob("config.yaml")), cli=cli)
