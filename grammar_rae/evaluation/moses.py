"""MOSES-style distribution metrics (Polykovskiy et al., 2020) of generated molecules against a
reference set (the run's test split) and the training set.

- Valid, Unique@1k, Unique@10k, Novelty: see :mod:`grammar_rae.evaluation.metrics`.
- IntDiv_p: 1 − mean over generated molecules g of (mean over generated h of T(g, h)^p)^(1/p),
  T the Tanimoto similarity of Morgan fingerprints (radius 2, 1024 bits); p = 1 and 2.
- SNN: mean over generated molecules of the Tanimoto similarity to the nearest reference molecule.
- Frag / Scaf: cosine similarity of the count vectors of BRICS fragments / Bemis–Murcko
  scaffolds (scaffolds with at least two rings) of the generated and reference sets.
- Filters: fraction of generated molecules without charged atoms, with only C N S O F Cl Br H,
  no ring of 8 or more atoms and no match in RDKit's PAINS catalogue. (MOSES also applies its own
  "MCF" SMARTS list, which RDKit does not ship; ours is the same rule set without it.)
- FCD: Fréchet ChemNet Distance from the ``fcd_torch`` package (its ChemNet weights ship inside
  it); skipped, with a note, if the package is missing.

The similarity matrices are computed block by block as matrix products of 0/1 fingerprints
(with torch), so 30,000 × 30,000 pairs take seconds, not an O(N²) Python loop.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from rdkit import Chem, RDLogger
from rdkit.Chem import BRICS, FilterCatalog, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

from grammar_rae.evaluation.metrics import set_metrics, unique_at
from grammar_rae.parallel import parallel_map

FINGERPRINT_BITS = 1024
_ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})


# ----- per-molecule features (run on all cores) ---------------------------------------------
@lru_cache(maxsize=1)
def _morgan():
    return rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=FINGERPRINT_BITS)


@lru_cache(maxsize=1)
def _pains():
    params = FilterCatalog.FilterCatalogParams()
    params.AddCatalog(FilterCatalog.FilterCatalogParams.FilterCatalogs.PAINS)
    return FilterCatalog.FilterCatalog(params)


def _scaffold(mol: Chem.Mol) -> str | None:
    try:
        scaffold = MurckoScaffold.GetScaffoldForMol(mol)
    except (ValueError, RuntimeError):
        return None
    if scaffold.GetRingInfo().NumRings() < 2:
        return None
    return Chem.MolToSmiles(scaffold) or None


def passes_filters(mol: Chem.Mol) -> bool:
    """The Filters rule set described in the module docstring."""
    if any(len(ring) >= 8 for ring in mol.GetRingInfo().AtomRings()):
        return False
    if any(atom.GetFormalCharge() != 0 or atom.GetSymbol() not in _ALLOWED_ATOMS for atom in mol.GetAtoms()):
        return False
    return not _pains().HasMatch(Chem.AddHs(mol))


def features(smiles: str) -> tuple[bytes, tuple[str, ...], str | None, bool]:
    """Packed Morgan fingerprint, BRICS fragments, scaffold and filter pass of a valid SMILES."""
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    bits = np.packbits(_morgan().GetFingerprintAsNumPy(mol).astype(bool)).tobytes()
    try:
        fragments = tuple(sorted(BRICS.BRICSDecompose(mol)))
    except (ValueError, RuntimeError):
        fragments = ()
    return bits, fragments, _scaffold(mol), passes_filters(mol)


class FeatureSet:
    """Features of a set of valid molecules: a (N, bits) 0/1 matrix and the count tables."""

    def __init__(self, smiles: Sequence[str], workers: int | None = None, progress: bool | str = False):
        rows = parallel_map(features, list(smiles), workers, chunk_size=500, progress=progress)
        packed = np.frombuffer(b"".join(r[0] for r in rows), dtype=np.uint8).reshape(len(rows), -1)
        self.fingerprints = np.unpackbits(packed, axis=1)[:, :FINGERPRINT_BITS]
        self.fragments = Counter(f for r in rows for f in r[1])
        self.scaffolds = Counter(r[2] for r in rows if r[2] is not None)
        self.filters = np.array([r[3] for r in rows], dtype=bool)
        self.smiles = list(smiles)


# ----- set-level metrics ----------------------------------------------------------------------
def _tanimoto_blocks(a: np.ndarray, b: np.ndarray, block: int = 4096):
    """Yield (start, T) with T the Tanimoto similarities of rows a[start:start+block] to all of b."""
    right = torch.as_tensor(b, dtype=torch.float32)
    right_counts = right.sum(dim=1)
    for start in range(0, len(a), block):
        left = torch.as_tensor(a[start : start + block], dtype=torch.float32)
        both = left @ right.T
        union = left.sum(dim=1, keepdim=True) + right_counts - both
        yield start, torch.where(union > 0, both / union.clamp_min(1), torch.ones_like(both))


def internal_diversity(fingerprints: np.ndarray, p: int = 1) -> float:
    """IntDiv_p of a set of 0/1 fingerprints."""
    rows = [(t.pow(p).mean(dim=1) ** (1.0 / p)) for _, t in _tanimoto_blocks(fingerprints, fingerprints)]
    return float(1.0 - torch.cat(rows).mean()) if rows else float("nan")


def nearest_neighbour_similarity(generated: np.ndarray, reference: np.ndarray) -> float:
    """SNN: mean Tanimoto similarity of each generated molecule to its nearest reference molecule."""
    rows = [t.max(dim=1).values for _, t in _tanimoto_blocks(generated, reference)]
    return float(torch.cat(rows).mean()) if rows else float("nan")


def cosine_similarity(a: Counter, b: Counter) -> float:
    """Cosine similarity of two count tables (0 if either is empty)."""
    keys = sorted(set(a) | set(b))
    x = np.array([a[k] for k in keys], dtype=np.float64)
    y = np.array([b[k] for k in keys], dtype=np.float64)
    norm = np.linalg.norm(x) * np.linalg.norm(y)
    return float(x @ y / norm) if norm > 0 else 0.0


def fcd_available() -> bool:
    """Whether ``fcd_torch`` is installed."""
    return importlib.util.find_spec("fcd_torch") is not None


def frechet_chemnet_distance(generated: Sequence[str], reference: Sequence[str], workers: int | None = None) -> float:
    """FCD between two sets of SMILES with fcd_torch's ChemNet, on the CPU (its numpy/scipy
    deprecation warnings are silenced; they are fcd_torch's, not the caller's)."""
    from fcd_torch import FCD

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return float(FCD(device="cpu", n_jobs=workers or 1)(list(reference), list(generated)))


def moses_metrics(
    canonical: Sequence[str | None],
    reference: FeatureSet,
    training: set[str],
    workers: int | None = None,
    fcd: bool = True,
    progress: bool = False,
) -> dict[str, float | None]:
    """The MOSES table for generated molecules given as canonical SMILES (None = invalid)."""
    counts = set_metrics(canonical, training)
    valid = [c for c in canonical if c is not None]
    out: dict[str, float | None] = {
        "n": len(canonical),
        "valid": counts.validity,
        "unique@1k": unique_at(valid, 1000),
        "unique@10k": unique_at(valid, 10000),
        "novelty": counts.novelty,
    }
    if not valid:
        return out | dict.fromkeys(["intdiv", "intdiv2", "snn", "frag", "scaf", "filters", "fcd"])
    generated = FeatureSet(valid, workers, progress="molecular features" if progress else False)
    out |= {
        "intdiv": internal_diversity(generated.fingerprints, 1),
        "intdiv2": internal_diversity(generated.fingerprints, 2),
        "snn": nearest_neighbour_similarity(generated.fingerprints, reference.fingerprints),
        "frag": cosine_similarity(generated.fragments, reference.fragments),
        "scaf": cosine_similarity(generated.scaffolds, reference.scaffolds),
        "filters": float(generated.filters.mean()),
        "fcd": frechet_chemnet_distance(valid, reference.smiles, workers) if fcd and fcd_available() and len(valid) > 1 else None,
    }
    return out
