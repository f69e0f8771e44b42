"""Progress bars that also work where nobody watches a terminal.

On a terminal a bar is tqdm's, redrawn in place. Anywhere else (a pipe, a log file, CI, a job
scheduler) tqdm would write its redraws as carriage returns on one ever-growing line, or the
caller would switch the bar off and the work would go silent for minutes. There, a bar writes one
plain line per update instead, at most every ``LOG_INTERVAL`` seconds, so a long step shows that
it is alive and how far it has got, and a log file stays readable line by line.

Whether bars are shown follows the package's log level, as its messages do (``logging``, logger
``grammar_rae``): shown when INFO gets through, which the CLI sets unless ``-q`` is given; in
Python, ``logging.basicConfig(level=logging.INFO)`` shows them, and the default (WARNING) hides them.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from tqdm import tqdm

LOG_INTERVAL = 10.0  # seconds between progress lines when the output is not a terminal
LOGGER = "grammar_rae"  # the package's logger, whose level decides whether progress is shown


def shown() -> bool:
    """Whether progress is shown: when the package's logger lets INFO messages through."""
    return logging.getLogger(LOGGER).isEnabledFor(logging.INFO)


class _Lines:
    """A text stream for tqdm that turns each in-place redraw into one line of its own, at most
    every ``LOG_INTERVAL`` seconds however often the bar is refreshed (``set_postfix`` redraws at
    once), apart from the first and the last: the bar's state when it closes is always written,
    finished or not (a redraw that repeats the count last written is not)."""

    def __init__(self, stream: TextIO):
        self.stream, self.last, self.written, self.pending = stream, None, -float("inf"), None

    def write(self, text: str) -> int:
        line = text.replace("\r", "").rstrip()
        count = _count(line)
        now = time.monotonic()
        due = self.last is None or "100%" in count or now - self.written >= LOG_INTERVAL
        if line and count != self.last:
            if due:
                self.stream.write(line + "\n")
                self.last, self.written, self.pending = count, now, None
            else:
                self.pending = line
        return len(text)

    def finish(self) -> None:
        """Write the last state held back by the interval (the bar has closed)."""
        if self.pending is not None and _count(self.pending) != self.last:
            self.stream.write(self.pending + "\n")
            self.last, self.pending = _count(self.pending), None
        self.stream.flush()

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


class _Bar(tqdm):
    """A shown bar, counted as open from its creation until it closes: work done inside it (an
    encoding inside a reconstruction, a parse inside a preparation) draws no bar of its own, so
    bars never interleave on the screen or in a log."""

    open = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _Bar.open += 1
        self.counted = True

    def close(self) -> None:
        try:
            super().close()
        finally:
            if getattr(self, "counted", False):
                _Bar.open -= 1
                self.counted = False


class _LoggedBar(_Bar):
    """A bar writing to :class:`_Lines`, whose last state is written when it closes."""

    def __init__(self, *args, lines: _Lines, **kwargs):
        self.lines = lines
        super().__init__(*args, file=lines, **kwargs)

    def close(self) -> None:
        if not self.disable:
            self.refresh()  # the state now, which the interval may have kept from the stream
            super().close()
            self.lines.finish()
        else:
            super().close()


def progress_bar(total: int | None = None, desc: str | None = None, enabled: bool | None = None, **options) -> tqdm:
    """A tqdm bar on standard error: redrawn on a terminal, a line at most every ``LOG_INTERVAL``
    seconds elsewhere (and always its last state); shown when progress is (:func:`shown`), unless
    ``enabled`` says otherwise, and not inside another shown bar. ``options`` go to tqdm."""
    if not (shown() if enabled is None else enabled) or _Bar.open:
        return tqdm(total=total, desc=desc, disable=True, **options)
    if not is_terminal():
        options = {**options, "mininterval": LOG_INTERVAL, "dynamic_ncols": False, "ncols": 100, "ascii": True}
        return _LoggedBar(total=total, desc=desc, lines=_Lines(sys.stderr), **options)
    return _Bar(total=total, desc=desc, **options)
