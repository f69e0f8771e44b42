"""Turning a file of strings into a cached, compact, memory-mappable array set.

``prepare_dataset`` parses every line on all cores and stores, in one cache folder keyed by
the grammar hash and the data file's sha256:

- ``productions.npy`` (N, max_length) production indices (int8 for the shipped grammars),
- ``lengths.npy`` (N,) real sequence lengths, ``line_numbers.npy`` (N,) 1-based source lines,
- ``strings.txt`` the kept strings, ``rejects.tsv`` every rejected line with its number and
  reason, and ``meta.json`` with the counts.

With ``kekule`` (SMILES only) each molecule is first rewritten by RDKit in its Kekulé form
(explicit single and double bonds, no aromatic atoms), so a model trained on it never has to get
aromaticity right to write a valid molecule; the cache is keyed by this choice too.

Bad lines never stop the run and are never dropped silently: each is counted by reason and
listed in ``rejects.tsv``. The folder is written under a temporary name and renamed into
place, so an interrupted run leaves no half-written cache behind.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grammar_rae.data.domains import domain_of
from grammar_rae.data.reading import read_strings
from grammar_rae.data.sources import dataset_with_sha256, file_sha256, local_dataset, resolve_data, run_source
from grammar_rae.data.validity import canonical_many
from grammar_rae.errors import DataError
from grammar_rae.files import save_lines
from grammar_rae.grammar.batch import parse_many
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.parallel import parallel_map
from grammar_rae.resources import cache_dir as user_cache_dir

_FORMAT_VERSION = 1


@dataclass
class PreparedDataset:
    """A prepared data set; the arrays are memory-mapped from the cache folder."""

    folder: Path
    grammar: Grammar
    productions: np.ndarray
    lengths: np.ndarray
    line_numbers: np.ndarray
    meta: dict = field(repr=False)

    @classmethod
    def load(cls, folder: str | Path, grammar: Grammar) -> PreparedDataset:
        """Open a cache folder written by :func:`prepare_dataset` for ``grammar``."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / "meta.json").read_text())
            arrays = {
                name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                for name in ("productions", "lengths", "line_numbers")
            }
        except (OSError, ValueError) as exc:
            raise DataError(
                f"The prepared data in {folder} is missing or corrupt ({exc}); prepare it again with --force."
            ) from exc
        if meta.get("grammar_hash") != grammar.hash:
            raise DataError(f"The prepared data in {folder} was made with a different grammar than {grammar.name}.")
        if not len(arrays["productions"]) == len(arrays["lengths"]) == meta["kept"]:
            raise DataError(f"The prepared data in {folder} is inconsistent; prepare it again with --force.")
        return cls(folder, grammar, arrays["productions"], arrays["lengths"], arrays["line_numbers"], meta)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def strings(self) -> list[str]:
        """The kept strings, in order (read from ``strings.txt``)."""
        return (self.folder / "strings.txt").read_text().split("\n")

    def canonical(self, workers: int | None = None) -> list[str | None]:
        """Canonical forms of the kept strings, in order (RDKit canonical SMILES for molecules),
        computed on all cores once and cached as ``canonical.txt``; used for novelty."""
        path = self.folder / "canonical.txt"
        if not path.exists():
            forms = canonical_many(self.grammar.name, self.strings, workers, desc="canonical forms")
            save_lines(path, (form or "" for form in forms))
        return [line or None for line in path.read_text().split("\n")[: len(self)]]

    @property
    def rejects_path(self) -> Path:
        """The TSV file listing every rejected input line (line, kind, reason, input)."""
        return self.folder / "rejects.tsv"

    @property
    def rejected(self) -> dict[str, int]:
        """Number of rejected lines by kind of failure."""
        return dict(self.meta["rejected"])


def cache_key(grammar: Grammar, data_sha256: str, column: str | None, max_length: int, kekule: bool = False) -> str:
    """The cache folder name for one prepared data set.

    Args:
        grammar: the grammar parsing it (its hash is part of the key).
        data_sha256: the sha256 of the data file.
        column: the column read from a table, or None for a plain list.
        max_length: the longest production sequence kept.
        kekule: whether molecules were rewritten in their Kekulé form first.
    """
    detail = json.dumps(
        [grammar.hash, data_sha256, column, max_length, _FORMAT_VERSION] + (["kekule"] if kekule else [])
    )
    return f"{grammar.name}-{hashlib.sha256(detail.encode()).hexdigest()[:20]}"


def prepare_dataset(
    grammar: Grammar,
    data: str | Path | None = None,
    *,
    column: str | None = None,
    max_length: int | None = None,
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    force: bool = False,
    kekule: bool = False,
) -> PreparedDataset:
    """Parse a data file into the cache (or reuse the cache) and return the prepared data set.

    Args:
        grammar: the grammar to parse with; its language's check screens each string (RDKit for SMILES).
        data: a file path, a data set name (``zinc250k``, ``expr100k``) or None for the grammar's
            default data set; see :func:`grammar_rae.data.sources.resolve_data`.
        column: the column holding the strings in a CSV/TSV table (default: the first).
        max_length: the longest production sequence kept (default: the grammar's).
        cache_dir: where prepared arrays live (default: the user cache).
        workers: parsing processes (default: all cores).
        force: prepare again even where the cache holds the result.
        kekule: rewrite molecules in their Kekulé form first (languages that have one).
    """
    if kekule and domain_of(grammar).kekule_form is None:
        raise DataError(f"The Kekulé form exists for molecules only, not for the {grammar.name} grammar.")
    path = resolve_data(data, grammar.name)
    max_length = max_length or grammar.max_length
    root = Path(cache_dir) if cache_dir is not None else user_cache_dir() / "prepared"
    sha256 = file_sha256(path)
    folder = root / cache_key(grammar, sha256, column, max_length, kekule)
    if not folder.is_dir() or force:
        _build(grammar, path, sha256, column, max_length, folder, workers, kekule)
    dataset = PreparedDataset.load(folder, grammar)
    if dataset.meta["source"] != str(path.resolve()):  # the same bytes prepared earlier from another file
        dataset.meta = {**dataset.meta, "source": str(path.resolve()), "prepared_from": dataset.meta["source"]}
    if len(dataset) == 0:
        raise DataError(
            f"None of the {dataset.meta['lines']} lines of {path} could be used; see {dataset.rejects_path}."
        )
    return dataset


def run_data_at_hand(grammar: Grammar, record: dict) -> bool:
    """Whether the data a run was trained on can be had without a download: prepared on this
    machine already, or its file (or the named data set with its sha256) is here."""
    kekule = record.get("kekule", False)
    if (
        user_cache_dir() / "prepared" / cache_key(grammar, record["sha256"], None, grammar.max_length, kekule)
    ).is_dir():
        return True
    if Path(record["source"]).is_file() or record.get("recipe") is not None:
        return True
    name = dataset_with_sha256(record["sha256"])
    return name is not None and local_dataset(name) is not None


def run_dataset(grammar: Grammar, record: dict, workers: int | None = None) -> PreparedDataset:
    """The prepared data set a run was trained on, from the ``data`` record of its config: the
    cached arrays of the file with that sha256 where this machine has prepared it (the raw file is
    not needed then), else prepared again from the run's source (see ``run_source``)."""
    kekule = record.get("kekule", False)  # runs saved before Kekulé data existed read molecules as written
    folder = user_cache_dir() / "prepared" / cache_key(grammar, record["sha256"], None, grammar.max_length, kekule)
    if folder.is_dir():
        return PreparedDataset.load(folder, grammar)
    source = run_source(record["source"], record["sha256"], record.get("recipe"))
    return prepare_dataset(grammar, source, workers=workers, kekule=kekule)


def _build(
    grammar: Grammar,
    path: Path,
    sha256: str,
    column: str | None,
    max_length: int,
    folder: Path,
    workers: int | None,
    kekule: bool = False,
) -> None:
    """Parse ``path`` and write the cache folder atomically (staging folder, then rename)."""
    root = folder.parent
    started = time.perf_counter()
    line_numbers, strings = read_strings(path, column)
    domain = domain_of(grammar)
    if kekule:  # a line RDKit cannot read keeps its text, and the semantic check below rejects it
        forms = parallel_map(domain.kekule_form, strings, workers, desc="Kekulé forms")
        strings = [form if form is not None else text for form, text in zip(forms, strings)]
    outcomes = parse_many(
        grammar,
        strings,
        max_length=max_length,
        check=domain.check,
        workers=workers,
        desc=f"preparing {path.name}",
    )
    kept = [i for i, outcome in enumerate(outcomes) if outcome.ok]
    productions = np.full((len(kept), max_length), grammar.padding_rule, dtype=grammar.index_dtype)
    for row, i in enumerate(kept):
        productions[row, : len(outcomes[i].sequence)] = outcomes[i].sequence
    rejected = Counter(outcome.kind for outcome in outcomes if not outcome.ok)
    meta = {
        "format": _FORMAT_VERSION,
        "grammar": grammar.name,
        "grammar_hash": grammar.hash,
        "source": str(path.resolve()),
        "source_sha256": sha256,
        "column": column,
        "kekule": kekule,
        "max_length": max_length,
        "lines": len(strings),
        "kept": len(kept),
        "rejected": dict(sorted(rejected.items())),
        "seconds": round(time.perf_counter() - started, 2),
    }

    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{folder.name}."))
    try:
        np.save(staging / "productions.npy", productions)
        np.save(staging / "lengths.npy", np.array([len(outcomes[i].sequence) for i in kept], dtype=np.int16))
        np.save(staging / "line_numbers.npy", np.array([line_numbers[i] for i in kept], dtype=np.int64))
        (staging / "strings.txt").write_text("\n".join(strings[i] for i in kept))
        with open(staging / "rejects.tsv", "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["line", "kind", "reason", "input"])
            for number, text, outcome in zip(line_numbers, strings, outcomes):
                if not outcome.ok:
                    writer.writerow([number, outcome.kind, outcome.error, text])
        (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
