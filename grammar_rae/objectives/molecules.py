"""Molecular properties with RDKit: logP (Crippen), QED, synthetic accessibility (RDKit Contrib
SA_Score, shipped with the rdkit wheel) and the cycle penalty of protocol section 8.

The cycle penalty uses the largest cycle of ``networkx.cycle_basis`` over the graph that
``networkx`` builds from RDKit's adjacency matrix, nodes in atom order, exactly as the Grammar
VAE's and JT-VAE's code do. A cycle basis depends on node and edge order, so a graph built from
the bond list gives other cycles on fused systems (and so do RDKit's rings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
from rdkit import Chem
from rdkit.Chem import QED, Crippen
from rdkit.Contrib.SA_Score import sascorer

from grammar_rae.data.domains import read_molecule
from grammar_rae.parallel import parallel_map

PROPERTIES = ("logp", "qed", "sa", "cycle")


def largest_cycle_penalty(mol: Chem.Mol) -> int:
    """max(L − 6, 0) with L the largest cycle of ``networkx.cycle_basis`` of the adjacency-matrix
    graph (0 without rings)."""
    graph = nx.Graph(Chem.GetAdjacencyMatrix(mol))
    longest = max((len(cycle) for cycle in nx.cycle_basis(graph)), default=0)
    return max(longest - 6, 0)


@dataclass(frozen=True)
class MoleculeProperties:
    """logP, QED, SA and the cycle penalty of one molecule."""

    logp: float
    qed: float
    sa: float
    cycle: int


def properties(smiles: str | None) -> MoleculeProperties | None:
    """The properties of a SMILES, or None if RDKit cannot read it, it has no atoms, or a score fails on it."""
    mol = read_molecule(smiles)
    if mol is None:
        return None
    try:
        return MoleculeProperties(
            Crippen.MolLogP(mol), QED.qed(mol), sascorer.calculateScore(mol), largest_cycle_penalty(mol)
        )
    except (ValueError, RuntimeError, ZeroDivisionError):  # RDKit raises these on exotic valences
        return None


def property_table(smiles: Sequence[str | None], workers: int | None = None, desc: str | None = None) -> np.ndarray:
    """(N, 4) float array of logP, QED, SA and cycle penalty on all cores; NaN rows for invalid
    input. ``desc`` names a progress bar (none without)."""
    rows = parallel_map(properties, list(smiles), workers, chunk_size=500, desc=desc)
    nan = (np.nan,) * len(PROPERTIES)
    return np.array([nan if r is None else (r.logp, r.qed, r.sa, r.cycle) for r in rows], dtype=np.float64).reshape(
        -1, len(PROPERTIES)
    )


def zinc_statistics(smiles: Sequence[str], workers: int | None = None, desc: str | None = None) -> dict:
    """Means and population standard deviations (``np.std``) of logP, SA and the cycle penalty
    over a molecule set (all of ZINC250k for the shipped file), the standardisation of the
    penalized-logP objective, plus the set's lowest composite and raw scores."""
    table = property_table(smiles, workers, desc)
    table = table[~np.isnan(table).any(axis=1)]
    logp, sa, cycle = table[:, 0], table[:, 2], table[:, 3]
    stats = {
        name: {"mean": float(v.mean()), "std": float(v.std())}
        for name, v in (("logp", logp), ("sa", sa), ("cycle", cycle))
    }
    composite = standardised_composite(logp, sa, cycle, stats)
    return {
        "molecules": int(len(table)),
        **stats,
        "logp_min": float(logp.min()),
        "composite_min": float(composite.min()),
        "raw_min": float((logp - sa - cycle).min()),
    }


def standardised_composite(logp: np.ndarray, sa: np.ndarray, cycle: np.ndarray, stats: dict) -> np.ndarray:
    """z(logP) + z(−SA) + z(−cycle) with the given means and standard deviations."""
    z = {
        name: (values - stats[name]["mean"]) / stats[name]["std"]
        for name, values in (("logp", logp), ("sa", sa), ("cycle", cycle))
    }
    return z["logp"] - z["sa"] - z["cycle"]
