"""What makes a string a valid member of its language beyond the grammar, and its canonical form.

``is_valid``, ``valid_mask`` and ``canonical_many`` judge generated strings (protocol section 7)
by their language's rule (see :mod:`grammar_rae.data.domains`): a SMILES is valid when RDKit
builds a molecule from it and reads back the canonical SMILES it writes for it (every metric works
on that form; a few generated hypervalent S/N rings fail the second read); an expression when it
evaluates to finite numbers everywhere on the scoring grid; a string of a plain grammar when it is
a complete derivation (not None). The canonical form is the one used for uniqueness and novelty.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from grammar_rae.data.domains import domain_of
from grammar_rae.parallel import parallel_map


def canonical_many(
    grammar_name: str, texts: Sequence[str | None], workers: int | None = None, desc: str | None = None
) -> list[str | None]:
    """Canonical forms of many strings on all cores (each distinct string once); None marks an
    invalid string. ``desc`` names a progress bar (none without)."""
    distinct = list(dict.fromkeys(t for t in texts if t is not None))
    forms = dict(zip(distinct, parallel_map(domain_of(grammar_name).canonical, distinct, workers, desc=desc)))
    return [None if t is None else forms[t] for t in texts]


def is_valid(grammar_name: str, text: str | None) -> bool:
    """True if a generated string is valid (it has a canonical form)."""
    return domain_of(grammar_name).canonical(text) is not None


def valid_mask(grammar_name: str, texts: Sequence[str | None], workers: int | None = None) -> np.ndarray:
    """Boolean validity of many generated strings, on all cores."""
    return np.array([c is not None for c in canonical_many(grammar_name, texts, workers)], dtype=bool)
