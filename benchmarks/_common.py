"""Helpers shared by the benchmark scripts: locating the data, timing, scoring decoded molecules."""

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


def molecule_figures(strings: list[str | None], reference, training=None) -> dict:
    """The MOSES figures of decoded SMILES against ``reference`` (novelty against ``training``,
    when given), plus ``unique``: the share of distinct molecules among the valid ones."""
    from grammar_rae.data.validity import canonical_many
    from grammar_rae.evaluation.moses import moses_metrics

    canonical = canonical_many("smiles", strings)
    valid = [c for c in canonical if c is not None]
    return moses_metrics(canonical, reference, training) | {"unique": len(set(valid)) / max(len(valid), 1)}
