"""``python -m textrnn.cli``: the same as the ``textrnn`` command."""

from textrnn.cli.app import main

main()
