"""`textrnn --version` and `textrnn --help`, which also lists the subcommands outside LightningCLI."""

import pytest

import textrnn
from textrnn.cli import main


def test_version(capsys):
    main(["--version"])
    assert capsys.readouterr().out == f"textrnn {textrnn.__version__}\n"


def test_help_lists_classify_too(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "fit" in out and "predict" in out
    assert "classify" in out and "textrnn classify --help" in out
