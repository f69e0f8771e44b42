"""Helpers shared by the benchmark scripts: locating the data and timing."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

DEFAULT_DATA = Path(os.environ.get("GRAMMAR_RAE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def data_argument(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` (default: $GRAMMAR_RAE_DATA_DIR or ../shared/data)."""
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder holding zinc250k.smi")


def best_time(function: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` wall-clock timings of ``function()``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best
