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


def gives_back(decoded: list[str | None], molecules: list[str]):
    """Whether each decoded string is its molecule (``molecules`` as canonical SMILES; stereo
    included), as a boolean array: the round-trip benchmarks' count."""
    import numpy as np

    from grammar_rae.data.validity import canonical_many

    back = canonical_many("smiles", decoded)
    return np.array([b is not None and b == m for b, m in zip(back, molecules)], dtype=bool)


def test_molecules(n: int, skip: int = 0) -> list[str]:
    """ZINC test-split molecules ``skip`` … ``skip + n`` as RDKit's canonical aromatic SMILES, the
    spelling users have (round-trip benchmarks give them as users would)."""
    from grammar_rae.evaluation.references import test_statistics, zinc_split

    reference, _ = test_statistics(zinc_split("test"), workers=1)
    return reference.smiles[skip : skip + n]


def round_trip_arguments(parser: argparse.ArgumentParser, n: int) -> None:
    """``--model``, ``--n`` and ``--skip``: which model round-trips which test molecules."""
    parser.add_argument("--model", default="pretrained:zinc-grae")
    parser.add_argument("--n", type=int, default=n, help=f"test molecules (default {n})")
    parser.add_argument("--skip", type=int, default=1000, help="test molecules skipped first (default 1000)")


def round_trip_setup(args: argparse.Namespace):
    """One thread, the test molecules and the model that ``round_trip_arguments`` named."""
    import torch

    from grammar_rae.generation.trained import TrainedModel

    torch.set_num_threads(1)
    return test_molecules(args.n, args.skip), TrainedModel.load(args.model, "cpu")
