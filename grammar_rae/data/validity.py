"""Checks beyond the grammar that a string must pass to be a valid member of its language."""

from __future__ import annotations

from collections.abc import Callable

from rdkit import Chem, RDLogger


def rdkit_reason(smiles: str) -> str | None:
    """None if RDKit can build a molecule from ``smiles``, else why not."""
    RDLogger.DisableLog("rdApp.*")
    return None if Chem.MolFromSmiles(smiles) is not None else "RDKit cannot build a molecule from it"


def semantic_check(grammar_name: str) -> Callable[[str], str | None] | None:
    """The extra check for a grammar's strings (RDKit for SMILES), or None if the grammar suffices."""
    return rdkit_reason if grammar_name == "smiles" else None
