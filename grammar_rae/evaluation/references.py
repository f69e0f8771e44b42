"""The MOSES table of any file of generated SMILES (``grammar-rae metrics``), against a test set
and a training set read from files or taken from the ZINC250k splits the models use.

What a reference set costs to prepare (canonical SMILES, fingerprints, BRICS fragments,
scaffolds, property values, ChemNet activations) is kept in the user cache under a key made of
the file's sha256, the column, the split, the RDKit version and :data:`CACHE_VERSION`, so a
second call against the same sets reads it back instead of recomputing it. Cache files are
plain arrays and text; nothing is unpickled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rdkit import rdBase

from grammar_rae.data.batching import make_splits
from grammar_rae.data.reading import read_strings
from grammar_rae.data.sources import file_sha256, local_dataset, resolve_data
from grammar_rae.data.validity import canonical_many
from grammar_rae.errors import DataError
from grammar_rae.evaluation.moses import FeatureSet, moses_metrics
from grammar_rae.files import save_lines
from grammar_rae.resources import cache_dir

CACHE_VERSION = 1  # raise when a feature's definition changes, so older cache files are not read
DEFAULT_TEST_SIZE = 5000  # the models' split (protocol section 1): the first 5,000 molecules are the test set


@dataclass(frozen=True)
class MoleculeSource:
    """Molecules to read: a file (its first column, or ``column``, for tables) and optionally one
    split (``test`` or ``train``) of the models' split of it."""

    path: Path
    column: str | None = None
    split: str | None = None

    @property
    def label(self) -> str:
        """How the source is named in reports."""
        return f"{self.path} ({self.split} split)" if self.split else str(self.path)

    def check(self) -> None:
        """Fail with one sentence if the file cannot be read (before any expensive work)."""
        if not self.path.is_file():
            raise DataError(f"{self.path} is not a file.")
        try:
            with open(self.path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise DataError(f"Cannot read {self.path}: {exc.strerror}.") from exc

    def cache_key(self, kind: str) -> str:
        """The cache file stem of this source's ``kind`` (``test`` or ``train``) statistics."""
        parts = (file_sha256(self.path), self.column or "", self.split or "", rdBase.rdkitVersion, str(CACHE_VERSION))
        return f"{kind}-{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:24]}"

    def read(self, workers: int | None = None, desc: str | None = None) -> tuple[list[str], list[int]]:
        """(canonical SMILES of the valid molecules, line numbers of the invalid ones); ``desc``
        names a progress bar (none without)."""
        lines, strings = read_strings(self.path, self.column)
        if self.split is not None:
            rows = getattr(make_splits(len(strings), DEFAULT_TEST_SIZE), self.split)
            lines, strings = [lines[i] for i in rows], [strings[i] for i in rows]
        canonical = canonical_many("smiles", strings, workers, desc)
        return [c for c in canonical if c is not None], [n for n, c in zip(lines, canonical) if c is None]


def zinc_split(split: str) -> MoleculeSource:
    """The ``test`` or ``train`` split of ZINC250k, as the models split it (downloaded once if it
    is not in ``$GRAMMAR_RAE_DATA_DIR`` or the cache)."""
    return MoleculeSource(resolve_data("zinc250k", "smiles"), split=split)


def _cached(path: Path, load: Callable, build: Callable, save: Callable):
    if path.exists():
        try:
            return load(path)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is rebuilt
    value = build()
    save(value, path)
    return value


def test_statistics(
    source: MoleculeSource, workers: int | None = None, fcd: bool = True
) -> tuple[FeatureSet, list[int]]:
    """The reference set's features (with ChemNet statistics when ``fcd``), cached; and the line
    numbers of its invalid molecules."""
    folder = cache_dir() / "metrics"
    key = source.cache_key("test")
    rejects = folder / f"{key}.rejected.txt"

    def build():
        valid, rejected = source.read(workers, "test set: canonical SMILES")
        if not valid:
            raise DataError(f"The test set {source.label} has no valid molecules.")
        save_lines(rejects, map(str, rejected))
        return FeatureSet(valid, workers, "test set: features", filters=False)

    features = _cached(folder / f"{key}.npz", FeatureSet.load, build, lambda value, path: value.save(path))
    if fcd and features.chemnet is None and len(features.smiles) > 1:
        features.chemnet_statistics(workers)
        features.save(folder / f"{key}.npz")
    return features, [int(line) for line in rejects.read_text().split()] if rejects.exists() else []


def training_statistics(source: MoleculeSource, workers: int | None = None) -> tuple[set[str], list[int]]:
    """The training set's canonical SMILES, cached; and the line numbers of its invalid molecules."""
    folder = cache_dir() / "metrics"
    key = source.cache_key("train")
    rejects = folder / f"{key}.rejected.txt"

    def build():
        valid, rejected = source.read(workers, "training set: canonical SMILES")
        save_lines(rejects, map(str, rejected))
        return valid

    valid = _cached(
        folder / f"{key}.smi", lambda path: path.read_text().split(), build, lambda value, path: save_lines(path, value)
    )
    return set(valid), [int(line) for line in rejects.read_text().split()] if rejects.exists() else []


def file_metrics(
    generated: MoleculeSource,
    test: MoleculeSource | None = None,
    train: MoleculeSource | None = None,
    workers: int | None = None,
    fcd: bool = True,
) -> dict:
    """The MOSES table of the generated SMILES in a file, with what was read: per-line failures
    are counted and listed (invalid generated strings count against validity, as in MOSES; invalid
    reference molecules are left out).

    Args:
        generated: the generated molecules (a file, or strings).
        test: the reference set (default: ZINC250k's test split).
        train: the training set, for novelty (default: ZINC250k's training split).
        workers: processes (default: all cores).
        fcd: compute the Fréchet ChemNet Distance.
    """
    for source in (generated, test, train):
        if source is not None:
            source.check()
    if (test is None or train is None) and local_dataset(
        "zinc250k"
    ) is None:  # refused here, not after a download attempt
        missing = " and ".join(
            f"--{kind} FILE" for kind, source in (("test", test), ("train", train)) if source is None
        )
        raise DataError(
            "The MOSES table is measured against reference molecules, by default the ZINC250k splits, which "
            "are not on this machine: run `grammar-rae data prepare --grammar smiles` once to download "
            f"them, or give {missing}."
        )
    lines, strings = read_strings(generated.path, generated.column)
    test = test or zinc_split("test")
    train = train or zinc_split("train")
    canonical = canonical_many("smiles", strings, workers, "generated: canonical SMILES")
    reference, test_rejected = test_statistics(test, workers, fcd)
    training, train_rejected = training_statistics(train, workers)
    table = moses_metrics(canonical, reference, training, workers, fcd)
    return {
        "generated": {
            "file": str(generated.path),
            "lines": len(strings),
            "valid": sum(c is not None for c in canonical),
            "invalid_lines": [n for n, c in zip(lines, canonical) if c is None],
        },
        "test": {"file": test.label, "molecules": len(reference.smiles), "rejected_lines": test_rejected},
        "train": {"file": train.label, "distinct_molecules": len(training), "rejected_lines": train_rejected},
        "metrics": table,
    }
