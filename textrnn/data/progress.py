"""Progress lines for long data steps: counts and rates, through `logging` (logger ``textrnn.data``).

A step that runs for a while (loading, deduplicating, training the vocabulary, tokenizing a million
texts) logs how far it got every ``every`` seconds and one closing line with its count and rate, e.g.
``tokenized train: 800,000 texts in 9.8 s (81,600 texts/s)``. Only the first process of a distributed
run logs, and a handler is added to the logger only when the program configured none, as Lightning
does for its own logger.
"""

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Optional, TypeVar

log = logging.getLogger("textrnn.data")
T = TypeVar("T")


def _first_process() -> bool:
    return all(os.environ.get(name, "0") == "0" for name in ("RANK", "LOCAL_RANK"))


def info(message: str) -> None:
    """Log one line from the first process, to stderr unless logging was configured elsewhere."""
    if not _first_process():
        return
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    log.info(message)


class Progress:
    """Counts items through a step and logs rates.

    Args:
        what: the step, past tense, e.g. "tokenized train".
        unit: what is counted, plural, e.g. "texts".
        total: the count expected, if known (shown as a share).
        every: seconds between progress lines; the closing line is always logged.
    """

    def __init__(self, what: str, unit: str = "texts", total: Optional[int] = None, every: float = 10.0) -> None:
        self.what, self.unit, self.total, self.every = what, unit, total, every
        self.count = 0
        self.start = self.last = time.perf_counter()

    def update(self, n: int) -> None:
        self.count += n
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            share = f" of {self.total:,} ({self.count / self.total:.0%})" if self.total else ""
            info(f"{self.what}: {self.count:,}{share} {self.unit} ({self.count / (now - self.start):,.0f} {self.unit}/s)")

    def done(self) -> float:
        """Log the closing line; returns the seconds taken."""
        seconds = time.perf_counter() - self.start
        rate = self.count / seconds if seconds > 0 else float("inf")
        info(f"{self.what}: {self.count:,} {self.unit} in {seconds:.1f} s ({rate:,.0f} {self.unit}/s)")
        return seconds

    def wrap(self, batches: Iterable[list[T]]) -> Iterator[list[T]]:
        """Pass batches through, counting their items, and log the closing line at the end."""
        for batch in batches:
            yield batch
            self.update(len(batch))
        self.done()
