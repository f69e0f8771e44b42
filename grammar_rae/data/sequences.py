"""The index arrays a model trains on: production sequences (grammar models) or characters (CVAE)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from grammar_rae.data.prepare import PreparedDataset
from grammar_rae.grammar.charset import CharCodec


@dataclass
class SequenceArrays:
    """Padded index sequences with their lengths; ``usable`` marks rows that fit the model."""

    indices: np.ndarray
    lengths: np.ndarray
    usable: np.ndarray
    vocab_size: int


def grammar_sequences(dataset: PreparedDataset) -> SequenceArrays:
    """Production-index sequences straight from the prepared (memory-mapped) arrays."""
    lengths = np.asarray(dataset.lengths, dtype=np.int64)
    return SequenceArrays(dataset.productions, lengths, np.ones(len(lengths), dtype=bool), dataset.grammar.n_rules)


def char_sequences(dataset: PreparedDataset, max_length: int) -> SequenceArrays:
    """Character sequences of the prepared strings; strings longer than ``max_length`` are unusable."""
    codec = CharCodec(dataset.grammar, max_length)
    indices, errors = codec.encode_batch(dataset.strings)
    usable = np.ones(len(indices), dtype=bool)
    usable[list(errors)] = False
    lengths = (indices != 0).sum(axis=1)
    return SequenceArrays(indices, lengths, usable, codec.vocab_size)


def one_hot_rows(
    indices: np.ndarray, rows: np.ndarray, vocab_size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot inputs (B, T, V) and integer targets (B, T) of ``indices[rows]`` on ``device``."""
    targets = torch.from_numpy(np.asarray(indices[rows]).astype(np.int64)).to(device)
    return F.one_hot(targets, vocab_size).float(), targets
