"""Data sets: sources and downloads, reading, validity checks and the prepared-array cache."""

from grammar_rae.data.domains import Domain, canonical_smiles, domain_of
from grammar_rae.data.prepare import PreparedDataset, prepare_dataset
from grammar_rae.data.sources import registry, resolve_data
from grammar_rae.data.validity import valid_mask

__all__ = [
    "Domain",
    "PreparedDataset",
    "canonical_smiles",
    "domain_of",
    "prepare_dataset",
    "registry",
    "resolve_data",
    "valid_mask",
]
