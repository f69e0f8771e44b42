"""What makes a string a valid member of its language beyond the grammar, and its canonical form.

Two uses: ``semantic_check`` screens training data (RDKit for SMILES; any expression of the
grammar is kept), and ``is_valid``/``valid_mask`` judge generated strings (protocol
section 7): a SMILES is valid when RDKit builds a molecule from it and reads back the canonical
SMILES it writes for it (every metric works on that form; a few generated hypervalent S/N rings
fail the second read); an expression when it
evaluates to finite numbers everywhere on the scoring grid. Strings of other grammars are
valid when they are complete derivations (not None). ``canonical`` gives the form used for
uniqueness and novelty: RDKit's canonical SMILES, or the string itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from rdkit import Chem, RDLogger

from grammar_rae.data.expressions import evaluator
from grammar_rae.parallel import parallel_map


def rdkit_reason(smiles: str) -> str | None:
    """None if RDKit can build a molecule from ``smiles``, else why not."""
    RDLogger.DisableLog("rdApp.*")
    return None if Chem.MolFromSmiles(smiles) is not None else "RDKit cannot build a molecule from it"


def semantic_check(grammar_name: str) -> Callable[[str], str | None] | None:
    """The extra check for a grammar's training strings (RDKit for SMILES), or None if the grammar suffices."""
    return rdkit_reason if grammar_name == "smiles" else None


def canonical_smiles(smiles: str | None) -> str | None:
    """RDKit's canonical SMILES, or None if RDKit cannot read it, it has no atoms, or RDKit
    cannot read the canonical SMILES it wrote."""
    if smiles is None:
        return None
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    text = Chem.MolToSmiles(mol)
    return text if Chem.MolFromSmiles(text) is not None else None


def kekule_smiles(smiles: str) -> str | None:
    """RDKit's canonical SMILES of the molecule written with alternating single and double bonds
    instead of aromatic atoms (``c1ccccc1`` -> ``C1=CC=CC=C1``), or None if RDKit cannot read it."""
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    Chem.Kekulize(mol, clearAromaticFlags=True)
    return Chem.MolToSmiles(mol, kekuleSmiles=True)


def input_form(grammar_name: str, kekule: bool = False) -> Callable[[str], str | None] | None:
    """How a user's string is rewritten into the form of a model's training strings before it is
    parsed: RDKit's canonical Kekulé (``kekule``) or aromatic SMILES for molecules, so that every
    spelling of a molecule is one input; None for languages read as written. The function gives
    None for a string RDKit cannot read as a molecule."""
    if grammar_name != "smiles":
        return None
    return kekule_smiles if kekule else canonical_smiles


def input_form_name(kekule: bool) -> str:
    """The words for a SMILES model's input form, for messages and model cards."""
    return "canonical Kekulé SMILES" if kekule else "canonical aromatic SMILES"


def canonical_expression(text: str | None) -> str | None:
    """The expression itself if it is valid (tokens already space-separated), else None."""
    return text if text is not None and evaluator().finite(text) else None


def canonical_form(grammar_name: str) -> Callable[[str | None], str | None]:
    """The function giving a valid string's canonical form (None if invalid)."""
    if grammar_name == "smiles":
        return canonical_smiles
    if grammar_name == "expr":
        return canonical_expression
    return _itself


def _itself(text: str | None) -> str | None:
    return text


def canonical_many(
    grammar_name: str, texts: Sequence[str | None], workers: int | None = None, progress: bool | str = False
) -> list[str | None]:
    """Canonical forms of many strings on all cores (each distinct string once); None marks an invalid string."""
    distinct = list(dict.fromkeys(t for t in texts if t is not None))
    forms = dict(zip(distinct, parallel_map(canonical_form(grammar_name), distinct, workers, progress=progress)))
    return [None if t is None else forms[t] for t in texts]


def is_valid(grammar_name: str, text: str | None) -> bool:
    """True if a generated string is valid (it has a canonical form)."""
    return canonical_form(grammar_name)(text) is not None


def valid_mask(grammar_name: str, texts: Sequence[str | None], workers: int | None = None) -> np.ndarray:
    """Boolean validity of many generated strings, on all cores."""
    return np.array([c is not None for c in canonical_many(grammar_name, texts, workers)], dtype=bool)
