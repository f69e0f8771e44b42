"""The PMO benchmark's RDKit-only objectives (GuacaMol's goal-directed scoring functions).

Each task is data in ``data/pmo_tasks.json``: a mean (arithmetic or geometric) of terms, each a
Tanimoto similarity to a target molecule, an RDKit descriptor, closeness to a molecular formula or
a SMARTS match, passed through a score modifier. This module holds only the few pieces that turn
that data into scores, written here rather than taken from the ``guacamol`` package because that
package no longer imports on today's SciPy and pulls in TensorFlow-era dependencies; the test
suite checks every task against guacamol's own functions on 1,000 ZINC molecules. Invalid SMILES
score 0, as PMO's oracles do.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from functools import cache, lru_cache

import numpy as np
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import Descriptors, rdFingerprintGenerator, rdMolDescriptors
from rdkit.Chem.Pharm2D import Generate, Gobbi_Pharm2D

from grammar_rae.resources import shipped

TASKS_FILE = "pmo_tasks.json"

_GENERATORS = {  # count fingerprints, as GuacaMol's (identical to RDKit's older GetMorganFingerprint & co.)
    "ECFP4": lambda: rdFingerprintGenerator.GetMorganGenerator(radius=2),
    "ECFP6": lambda: rdFingerprintGenerator.GetMorganGenerator(radius=3),
    "FCFP4": lambda: rdFingerprintGenerator.GetMorganGenerator(
        radius=2, atomInvariantsGenerator=rdFingerprintGenerator.GetMorganFeatureAtomInvGen()
    ),
    "AP": lambda: rdFingerprintGenerator.GetAtomPairGenerator(maxDistance=10),
}


@cache
def _generator(kind: str):
    return _GENERATORS[kind]()


def fingerprint(mol: Chem.Mol, kind: str):
    """The molecule's fingerprint of a GuacaMol kind (ECFP4, ECFP6, FCFP4, AP, PHCO)."""
    if kind == "PHCO":
        return Generate.Gen2DFingerprint(mol, Gobbi_Pharm2D.factory)
    return _generator(kind).GetSparseCountFingerprint(mol)


def _with_hydrogens(function: Callable[[Chem.Mol], float]) -> Callable[[Chem.Mol], float]:
    return lambda mol: function(Chem.AddHs(mol))


DESCRIPTORS: dict[str, Callable[[Chem.Mol], float]] = {
    "logp": Descriptors.MolLogP,
    "tpsa": Descriptors.TPSA,
    "bertz": Descriptors.BertzCT,
    "num_rings": rdMolDescriptors.CalcNumRings,
    "num_aromatic_rings": rdMolDescriptors.CalcNumAromaticRings,
    "num_atoms": _with_hydrogens(lambda mol: mol.GetNumAtoms()),
}


def _descriptor(name: str) -> Callable[[Chem.Mol], float]:
    if name.startswith("count_"):  # atoms of one element (hydrogens made explicit to count them)
        element = name.removeprefix("count_")
        count = lambda mol: sum(atom.GetSymbol() == element for atom in mol.GetAtoms())  # noqa: E731
        return _with_hydrogens(count) if element == "H" else count
    return DESCRIPTORS[name]


def _modifier(spec: dict | None) -> Callable[[float], float]:
    """GuacaMol's score modifiers (see the data file's ``terms.modifiers``)."""
    if spec is None:
        return lambda x: x
    kind = spec["kind"]
    if kind == "clipped":
        return lambda x: min(max(x / spec["upper_x"], 0.0), 1.0)
    mu, sigma = spec["mu"], spec["sigma"]
    gaussian = lambda x, mu: math.exp(-0.5 * ((x - mu) / sigma) ** 2)  # noqa: E731
    if kind == "gaussian":
        return lambda x: gaussian(x, mu)
    if kind == "min_gaussian":
        return lambda x: gaussian(max(x, mu), mu)
    if kind == "max_gaussian":
        return lambda x: gaussian(min(x, mu), mu)
    raise ValueError(f"unknown modifier {kind!r}")


def _gaussian_around(descriptor: Callable[[Chem.Mol], float], spec: dict) -> Callable[[float], float]:
    """A Gaussian modifier whose centre is the descriptor of another molecule (``mu_of``)."""
    return _modifier(
        {"kind": spec["kind"], "mu": descriptor(Chem.MolFromSmiles(spec["mu_of"])), "sigma": spec["sigma"]}
    )


def _formula(formula: str) -> list[tuple[str, int]]:
    return [(element, int(count or 1)) for element, count in re.findall(r"([A-Z][a-z]*)(\d*)", formula)]


def _isomer_term(formula: str) -> Callable[[Chem.Mol], float]:
    """Geometric mean of a Gaussian (σ 1) on each element's count and one (σ 2) on the total atom count."""
    parts = _formula(formula)
    total = sum(count for _, count in parts)
    terms = [
        (_descriptor(f"count_{element}"), _modifier({"kind": "gaussian", "mu": count, "sigma": 1.0}))
        for element, count in parts
    ]
    terms.append((DESCRIPTORS["num_atoms"], _modifier({"kind": "gaussian", "mu": total, "sigma": 2.0})))

    def score(mol: Chem.Mol) -> float:
        values = [modify(descriptor(mol)) for descriptor, modify in terms]
        return float(np.prod(values) ** (1.0 / len(values)))

    return score


def _term(spec: dict) -> Callable[[Chem.Mol], float]:
    """One term of a task: a function of an RDKit molecule."""
    if "tanimoto" in spec:
        kind, modify = spec["fingerprint"], _modifier(spec.get("modifier"))
        target = fingerprint(Chem.MolFromSmiles(spec["tanimoto"]), kind)
        return lambda mol: modify(DataStructs.TanimotoSimilarity(fingerprint(mol, kind), target))
    if "descriptor" in spec:
        descriptor, modifier = _descriptor(spec["descriptor"]), spec.get("modifier")
        modify = _gaussian_around(descriptor, modifier) if modifier and "mu_of" in modifier else _modifier(modifier)
        return lambda mol: modify(descriptor(mol))
    if "isomer" in spec:
        return _isomer_term(spec["isomer"])
    pattern, inverse = Chem.MolFromSmarts(spec["smarts"]), spec["inverse"]
    return lambda mol: float(mol.HasSubstructMatch(pattern) != inverse)


@lru_cache(maxsize=1)
def task_specs() -> dict[str, dict]:
    """The tasks of the shipped data file, by name."""
    return json.loads((shipped("grammar_rae.datafiles") / TASKS_FILE).read_text())["tasks"]


def task_names() -> list[str]:
    """The PMO tasks defined here (PMO's ``qed`` is the built-in objective of that name)."""
    return sorted(task_specs())


def _molecule(smiles: str | None) -> Chem.Mol | None:
    """The sanitised molecule, or None for a string RDKit cannot read (GuacaMol's validity)."""
    if not smiles:
        return None
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    try:
        if mol is not None:
            Chem.SanitizeMol(mol)
    except ValueError:
        return None
    return mol


def task_function(name: str) -> Callable[[Sequence[str | None]], np.ndarray]:
    """The vectorised score of PMO task ``name`` (0 for invalid SMILES)."""
    spec = task_specs()[name]
    terms = [_term(term) for term in spec["terms"]]
    geometric = spec["mean"] == "geometric"

    def score_one(smiles: str | None) -> float:
        mol = _molecule(smiles)
        if mol is None:
            return 0.0
        values = [term(mol) for term in terms]
        return float(np.prod(values) ** (1.0 / len(values))) if geometric else float(np.mean(values))

    def score(strings: Sequence[str | None]) -> np.ndarray:
        return np.array([score_one(s) for s in strings], dtype=np.float64)

    score.__name__ = name
    return score
