"""What the argparse subcommands (``textrnn classify``, ``textrnn export``) share: parse, run, and end a
user error in one escaped line instead of a traceback."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from rich.console import Console

from textrnn.files import printable


def run_subcommand(name: str, parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], None],
                   argv: list[str]) -> int:
    """Parse ``argv`` with ``parser`` and call ``run(args)``; returns the exit code.

    A usage error or ``--help`` is argparse's own (its exit code). A ``ValueError`` or ``OSError`` from
    ``run`` (a bad path, format, column or checkpoint) prints ``textrnn NAME: error: ...`` as one line, with
    control characters escaped, and returns 2; set TEXTRNN_TRACEBACK=1 to see the traceback instead.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already explained
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        run(args)
    except (ValueError, OSError) as err:
        if os.environ.get("TEXTRNN_TRACEBACK"):
            raise
        Console(stderr=True).print(f"textrnn {name}: error: {printable(err)}", markup=False, highlight=False,
                                   soft_wrap=True)
        return 2
    return 0
