"""Progress bars that also work where nobody watches a terminal.

On a terminal a bar is tqdm's, redrawn in place. Anywhere else (a pipe, a log file, CI, a job
scheduler) tqdm would write its redraws as carriage returns on one ever-growing line, or the
caller would switch the bar off and the work would go silent for minutes. There, a bar writes one
plain line per update instead, at most every ``LOG_INTERVAL`` seconds, so a long step shows that
it is alive and how far it has got, and a log file stays readable line by line.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

LOG_INTERVAL = 10.0  # seconds between progress lines when the output is not a terminal


class _Lines:
    """A text stream for tqdm that turns each in-place redraw into one line of its own, at most
    every ``LOG_INTERVAL`` seconds however often the bar is refreshed (``set_postfix`` redraws at
    once), apart from the first and the finished one (the closing redraw of a finished bar, the
    same count again, is not repeated)."""

    def __init__(self, stream: TextIO):
        self.stream, self.last, self.written = stream, None, -float("inf")

    def write(self, text: str) -> int:
        line = text.replace("\r", "").rstrip()
        count = _count(line)
        now = time.monotonic()
        due = self.last is None or "100%" in count or now - self.written >= LOG_INTERVAL
        if line and count != self.last and due:
            self.stream.write(line + "\n")
            self.last, self.written = count, now
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def _count(line: str) -> str:
    """What a progress line says of progress: its description, percentage and n/total, without
    the timing and rate (which change between redraws, and with their width the bar's)."""
    parts = line.split("|")
    if len(parts) >= 3:  # "desc:  33%|###   | 1/3 [00:01<00:02, ...]"
        return parts[0] + "|" + parts[-1].split(" [")[0]
    return line.split(" [")[0]


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: standard error) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def progress_bar(total: int | None = None, desc: str | None = None, enabled: bool = True, **options) -> tqdm:
    """A tqdm bar on standard error: redrawn on a terminal, a line at most every ``LOG_INTERVAL``
    seconds elsewhere; ``enabled=False`` shows nothing. ``options`` go to tqdm."""
    if enabled and not is_terminal():
        options = {**options, "file": _Lines(sys.stderr), "mininterval": LOG_INTERVAL, "dynamic_ncols": False,
                   "ncols": 100, "ascii": True}
    return tqdm(total=total, desc=desc, disable=not enabled, **options)

