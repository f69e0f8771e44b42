"""The MOSES Filters rule set (Polykovskiy et al., 2020), as its reference code applies it.

A molecule passes when it has no ring of 8 or more atoms, no charged atom, only the elements
C N S O F Cl Br H, no match of any medicinal-chemistry (MCF) or PAINS pattern on the molecule
with explicit hydrogens, and its non-isomeric SMILES reads back. The patterns are data, shipped
in ``moses_filters.json`` with their provenance (MOSES's own lists: RDKit's PAINS catalogue and
its ``wehi_pains.csv`` differ from them in 17 patterns). The loader is the project's own, so the
metric works without the unmaintained ``molsets`` package.
"""

from __future__ import annotations

import json
from functools import lru_cache

from rdkit import Chem

from grammar_rae.resources import shipped

ALLOWED_ELEMENTS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})


@lru_cache(maxsize=1)
def filter_patterns() -> tuple[tuple[str, Chem.Mol], ...]:
    """(name, compiled SMARTS) of every MCF and PAINS pattern, in the data file's order."""
    data = json.loads((shipped("grammar_rae.datafiles") / "moses_filters.json").read_text())
    return tuple((entry["name"], Chem.MolFromSmarts(entry["smarts"])) for entry in data["mcf"] + data["pains"])


def failed_filters(mol: Chem.Mol) -> list[str]:
    """Why a molecule fails the Filters metric: the rules it breaks and the patterns it matches
    (an empty list means it passes)."""
    reasons = []
    if any(len(ring) >= 8 for ring in mol.GetRingInfo().AtomRings()):
        reasons.append("ring of 8 or more atoms")
    if any(atom.GetFormalCharge() != 0 for atom in mol.GetAtoms()):
        reasons.append("charged atom")
    if any(atom.GetSymbol() not in ALLOWED_ELEMENTS for atom in mol.GetAtoms()):
        reasons.append("element outside C N S O F Cl Br H")
    with_hydrogens = Chem.AddHs(mol)
    reasons += [name for name, pattern in filter_patterns() if with_hydrogens.HasSubstructMatch(pattern)]
    smiles = Chem.MolToSmiles(mol, isomericSmiles=False)
    if not smiles or Chem.MolFromSmiles(smiles) is None:
        reasons.append("SMILES does not read back")
    return reasons


def passes_filters(mol: Chem.Mol) -> bool:
    """Whether a molecule passes the Filters metric."""
    return not failed_filters(mol)
