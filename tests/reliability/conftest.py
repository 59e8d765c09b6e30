"""Shared by the reliability tests (the trained run they use, ``tiny_run``, is in tests/conftest.py)."""

from datasets.utils import logging as datasets_logging

# `datasets` makes its log handler on first use, on whatever sys.stderr is then: inside a test with
# capsys that stream is closed afterwards, and a later log line prints a "Logging error" traceback.
datasets_logging.get_verbosity()
