"""Data sets: sources and downloads, reading, validity checks and the prepared-array cache."""

from grammar_rae.data.prepare import PreparedDataset, prepare_dataset
from grammar_rae.data.sources import registry, resolve_data

__all__ = ["PreparedDataset", "prepare_dataset", "registry", "resolve_data"]
