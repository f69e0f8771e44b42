"""Validity, uniqueness and novelty of generated strings, and property summaries.

Definitions (as MOSES): validity = valid / all generated (undecodable points count as
invalid); uniqueness = distinct canonical forms / valid; novelty = distinct valid strings not
in the training set / distinct valid. Canonical forms are RDKit canonical SMILES for molecules
and the strings themselves for expressions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from grammar_rae.objectives.molecules import PROPERTIES, property_table


@dataclass
class SetMetrics:
    """Validity, uniqueness and novelty of ``n`` generated strings (fractions in [0, 1])."""

    n: int
    valid: int
    validity: float
    uniqueness: float
    novelty: float | None

    def to_dict(self) -> dict:
        """Plain values for JSON."""
        return asdict(self)


def set_metrics(canonical: Sequence[str | None], training: Iterable[str] | None = None) -> SetMetrics:
    """Metrics of generated strings given their canonical forms (None = invalid); novelty
    needs the training set's canonical forms (None: not computed)."""
    valid = [c for c in canonical if c is not None]
    distinct = set(valid)
    novelty = None
    if training is not None:
        known = training if isinstance(training, (set, frozenset)) else set(training)
        novelty = len(distinct - known) / len(distinct) if distinct else 0.0
    return SetMetrics(
        n=len(canonical),
        valid=len(valid),
        validity=len(valid) / len(canonical) if canonical else 0.0,
        uniqueness=len(distinct) / len(valid) if valid else 0.0,
        novelty=novelty,
    )


def unique_at(canonical_valid: Sequence[str], k: int) -> float:
    """Unique@k: distinct fraction among the first ``k`` valid strings (all of them if fewer)."""
    first = list(canonical_valid[:k])
    return len(set(first)) / len(first) if first else 0.0


def property_summary(smiles: Sequence[str], workers: int | None = None) -> dict[str, dict[str, float]]:
    """Mean and standard deviation of logP, QED, SA and cycle penalty over valid molecules."""
    table = property_table(smiles, workers)
    table = table[~np.isnan(table).any(axis=1)]
    return {
        name: {
            "mean": float(column.mean()) if len(column) else float("nan"),
            "sd": float(column.std()) if len(column) else float("nan"),
        }
        for name, column in zip(PROPERTIES, table.T)
    }
