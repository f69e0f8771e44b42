"""MOSES-style distribution metrics (Polykovskiy et al., 2020) of generated molecules against a
reference set (the run's test split) and the training set.

- Valid, Unique@1k, Unique@10k, Novelty: see :mod:`grammar_rae.evaluation.metrics`.
- IntDiv_p: 1 − mean over generated molecules g of (mean over generated h of T(g, h)^p)^(1/p),
  T the Tanimoto similarity of Morgan fingerprints (radius 2, 1024 bits); p = 1 and 2.
- SNN: mean over generated molecules of the Tanimoto similarity to the nearest reference molecule.
- Frag: cosine similarity of the count vectors of BRICS fragments of the generated and reference
  sets: each molecule is cut at all its BRICS bonds at once (``FragmentOnBRICSBonds``) and every
  piece of the result counts, repeats included, as MOSES counts them.
- Scaf: the same for Bemis–Murcko scaffolds with at least two rings (one per molecule).
- Filters: see :mod:`grammar_rae.evaluation.filters` (MOSES's MCF and PAINS lists).
- logP, SA, QED, weight: Wasserstein-1 distances between the property values of the generated and
  reference molecules (Crippen logP, SA_Score, QED, average molecular weight).
- FCD: Fréchet ChemNet Distance from the ``fcd_torch`` package (its ChemNet weights ship inside
  it); skipped, with a note, if the package is missing.

Every set-level figure is over the valid generated molecules with repeats, as MOSES computes
them; cosine similarities of empty count tables are NaN, as in MOSES.

The similarity matrices are computed block by block as matrix products of 0/1 fingerprints
(with torch), so 30,000 × 30,000 pairs take seconds, not an O(N²) Python loop.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem, RDLogger
from rdkit.Chem import QED, Crippen, Descriptors, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold
from rdkit.Contrib.SA_Score import sascorer
from scipy.stats import wasserstein_distance

from grammar_rae.evaluation.filters import passes_filters
from grammar_rae.evaluation.metrics import set_metrics, unique_at
from grammar_rae.files import write_atomic
from grammar_rae.parallel import parallel_map

FINGERPRINT_BITS = 1024
PROPERTY_DISTANCES = ("logp", "sa", "qed", "weight")


# ----- per-molecule features (run on all cores) ---------------------------------------------
@lru_cache(maxsize=1)
def _morgan():
    return rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=FINGERPRINT_BITS)


def brics_fragments(mol: Chem.Mol) -> list[str]:
    """The pieces of a molecule cut at all its BRICS bonds at once, as SMILES, repeats kept."""
    return Chem.MolToSmiles(Chem.FragmentOnBRICSBonds(mol)).split(".")


def scaffold(mol: Chem.Mol) -> str | None:
    """The Bemis–Murcko scaffold's SMILES, or None when it has fewer than two rings."""
    try:
        core = MurckoScaffold.GetScaffoldForMol(mol)
    except (ValueError, RuntimeError):
        return None
    if core.GetRingInfo().NumRings() < 2:
        return None
    return Chem.MolToSmiles(core) or None


def _property_values(mol: Chem.Mol) -> tuple[float, float, float, float]:
    try:
        return Crippen.MolLogP(mol), sascorer.calculateScore(mol), QED.qed(mol), Descriptors.MolWt(mol)
    except (ValueError, RuntimeError, ZeroDivisionError):  # RDKit raises these on exotic valences
        return (np.nan,) * 4


def features(
    smiles: str, filters: bool = True
) -> tuple[bytes, list[str], str | None, bool | None, tuple[float, float, float, float]]:
    """Packed Morgan fingerprint, BRICS fragments, scaffold, filter pass (None unless ``filters``:
    the slowest feature, needed for generated sets only) and (logP, SA, QED, weight) of a valid
    SMILES."""
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    bits = np.packbits(_morgan().GetFingerprintAsNumPy(mol).astype(bool)).tobytes()
    try:
        fragments = brics_fragments(mol)
    except (ValueError, RuntimeError):
        fragments = []
    return bits, fragments, scaffold(mol), passes_filters(mol) if filters else None, _property_values(mol)


def _pack(strings: Sequence[str]) -> np.ndarray:
    return np.frombuffer("\n".join(strings).encode(), dtype=np.uint8)


def _unpack(blob: np.ndarray) -> list[str]:
    text = blob.tobytes().decode()
    return text.split("\n") if text else []


class FeatureSet:
    """Features of a set of valid molecules: a (N, bits) 0/1 fingerprint matrix, the fragment and
    scaffold count tables, the filter passes (empty for a reference set, built with
    ``filters=False``) and a (N, 4) table of logP, SA, QED and weight.

    ``save``/``load`` keep a reference set's features in one ``.npz`` of plain arrays (strings
    packed as UTF-8 bytes, read with ``allow_pickle=False``), with its ChemNet statistics for FCD.
    """

    def __init__(
        self, smiles: Sequence[str], workers: int | None = None, desc: str | None = None, filters: bool = True
    ):
        """``desc`` names a progress bar (none without)."""
        rows = parallel_map(partial(features, filters=filters), list(smiles), workers, chunk_size=500, desc=desc)
        packed = np.frombuffer(b"".join(r[0] for r in rows), dtype=np.uint8).reshape(len(rows), -1)
        self.fingerprints = np.unpackbits(packed, axis=1)[:, :FINGERPRINT_BITS]
        self.fragments = Counter(f for r in rows for f in r[1])
        self.scaffolds = Counter(r[2] for r in rows if r[2] is not None)
        self.filters = np.array([r[3] for r in rows], dtype=bool) if filters else np.zeros(0, dtype=bool)
        self.properties = np.array([r[4] for r in rows], dtype=np.float64).reshape(-1, len(PROPERTY_DISTANCES))
        self.smiles = list(smiles)
        self.chemnet: tuple[np.ndarray, np.ndarray] | None = None

    def chemnet_statistics(self, workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of the set's ChemNet activations (computed once, then kept)."""
        if self.chemnet is None:
            with warnings.catch_warnings():  # fcd_torch's numpy deprecation warnings, not the caller's
                warnings.simplefilter("ignore", DeprecationWarning)
                stats = _fcd(workers).precalc(self.smiles)
            self.chemnet = (np.asarray(stats["mu"]), np.asarray(stats["sigma"]))
        return self.chemnet

    def save(self, path: str | Path) -> None:
        """Write the features (and the ChemNet statistics, if computed) atomically."""
        arrays = {
            "fingerprints": np.packbits(self.fingerprints.astype(bool), axis=1),
            "fragment_keys": _pack(list(self.fragments)),
            "fragment_counts": np.array(list(self.fragments.values()), dtype=np.int64),
            "scaffold_keys": _pack(list(self.scaffolds)),
            "scaffold_counts": np.array(list(self.scaffolds.values()), dtype=np.int64),
            "filters": self.filters,
            "properties": self.properties,
            "smiles": _pack(self.smiles),
        }
        if self.chemnet is not None:
            arrays["chemnet_mu"], arrays["chemnet_sigma"] = self.chemnet
        write_atomic(path, lambda out: np.savez(out, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> FeatureSet:
        """Read features written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            self = cls.__new__(cls)
            self.fingerprints = np.unpackbits(data["fingerprints"], axis=1)[:, :FINGERPRINT_BITS]
            self.fragments = Counter(dict(zip(_unpack(data["fragment_keys"]), data["fragment_counts"].tolist())))
            self.scaffolds = Counter(dict(zip(_unpack(data["scaffold_keys"]), data["scaffold_counts"].tolist())))
            self.filters = data["filters"]
            self.properties = data["properties"]
            self.smiles = _unpack(data["smiles"])
            self.chemnet = (data["chemnet_mu"], data["chemnet_sigma"]) if "chemnet_mu" in data else None
        return self


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
    """Cosine similarity of two count tables (NaN if either is empty, as in MOSES)."""
    if not a or not b:
        return float("nan")
    keys = sorted(set(a) | set(b))
    x = np.array([a[k] for k in keys], dtype=np.float64)
    y = np.array([b[k] for k in keys], dtype=np.float64)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


def property_distances(generated: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Wasserstein-1 distance of each property column (logP, SA, QED, weight) between two sets."""
    out = {}
    for column, name in enumerate(PROPERTY_DISTANCES):
        x, y = generated[:, column], reference[:, column]
        x, y = x[~np.isnan(x)], y[~np.isnan(y)]
        out[name] = float(wasserstein_distance(x, y)) if len(x) and len(y) else float("nan")
    return out


def _fcd(workers: int | None = None):
    from fcd_torch import FCD

    return FCD(device="cpu", n_jobs=workers or 1)


def frechet_distance(generated: tuple[np.ndarray, np.ndarray], reference: tuple[np.ndarray, np.ndarray]) -> float:
    """FCD from the ChemNet statistics (mean, covariance) of two sets, with fcd_torch's formula."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return float(
            _fcd().metric({"mu": reference[0], "sigma": reference[1]}, {"mu": generated[0], "sigma": generated[1]})
        )


MOSES_KEYS = (
    "n",
    "valid",
    "unique@1k",
    "unique@10k",
    "novelty",
    "intdiv",
    "intdiv2",
    "snn",
    "frag",
    "scaf",
    "filters",
    "fcd",
    *PROPERTY_DISTANCES,
)


def moses_metrics(
    canonical: Sequence[str | None],
    reference: FeatureSet,
    training: set[str] | None,
    workers: int | None = None,
    fcd: bool = True,
) -> dict:
    """The MOSES table for generated molecules. A figure that is undefined for these sets (MOSES's
    NaN, e.g. Scaf when no molecule has a ring) is None, and ``missing`` says why for each such figure.

    Args:
        canonical: the generated molecules as canonical SMILES, None for an invalid string.
        reference: the reference set's features (MOSES's test set, or ZINC's test split).
        training: the training set's canonical SMILES, for novelty (None: not computed).
        workers: processes for the per-molecule work (default: all cores).
        fcd: compute the Fréchet ChemNet Distance (the slowest figure).
    """
    counts = set_metrics(canonical, training)
    valid = [c for c in canonical if c is not None]
    out: dict = {
        "n": len(canonical),
        "valid": counts.validity,
        "unique@1k": unique_at(valid, 1000),
        "unique@10k": unique_at(valid, 10000),
        "novelty": counts.novelty,
    }
    missing = {} if training is not None else {"novelty": "needs the training set"}
    if not valid:
        return (
            out
            | dict.fromkeys(MOSES_KEYS[5:])
            | {"missing": missing | dict.fromkeys(MOSES_KEYS[5:], "no valid molecule")}
        )
    generated = FeatureSet(valid, workers, desc="molecular features")
    out |= {
        "intdiv": internal_diversity(generated.fingerprints, 1),
        "intdiv2": internal_diversity(generated.fingerprints, 2),
        "snn": nearest_neighbour_similarity(generated.fingerprints, reference.fingerprints),
        "frag": cosine_similarity(generated.fragments, reference.fragments),
        "scaf": cosine_similarity(generated.scaffolds, reference.scaffolds),
        "filters": float(generated.filters.mean()),
        "fcd": None,
        **property_distances(generated.properties, reference.properties),
    }
    for key, mine, theirs, what in (
        ("frag", generated.fragments, reference.fragments, "BRICS fragment"),
        ("scaf", generated.scaffolds, reference.scaffolds, "ring scaffold"),
    ):
        if not mine or not theirs:
            missing[key] = f"no {'generated' if not mine else 'reference'} molecule has a {what}"
    if not fcd:
        missing["fcd"] = "not asked for (--no-fcd)"
    elif len(valid) < 2 or len(reference.smiles) < 2:
        missing["fcd"] = "needs at least two valid molecules in each set (a covariance)"
    else:
        out["fcd"] = frechet_distance(generated.chemnet_statistics(workers), reference.chemnet_statistics(workers))
    out = {k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in out.items()}
    missing |= {k: "undefined for these sets (NaN in MOSES)" for k, v in out.items() if v is None and k not in missing}
    return out | ({"missing": missing} if missing else {})
