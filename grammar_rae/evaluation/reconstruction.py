"""Reconstruction accuracy (protocol section 7): encode, decode, compare strings exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from grammar_rae.generation.trained import TrainedModel


@dataclass
class Reconstruction:
    """Fraction of decodes equal to their input, over ``n`` inputs × ``decodes`` decodes."""

    accuracy: float
    n: int
    decodes: int
    failed_inputs: int


def reconstruction_accuracy(
    model: TrainedModel, strings: list[str], decodes: int = 1, mode: str = "argmax", seed: int = 0
) -> Reconstruction:
    """Encode each string once (the deterministic code), decode it ``decodes`` times and count exact
    string matches. Strings the model cannot encode count as failures."""
    codes, errors = model.encode(strings)
    ok = np.setdiff1d(np.arange(len(strings)), list(errors))
    generator = torch.Generator(device=model.device).manual_seed(seed)
    hits = 0
    for _ in range(decodes):
        decoded = model.decode(codes[ok], mode=mode, generator=generator)
        hits += sum(d == strings[i] for d, i in zip(decoded, ok))
    return Reconstruction(hits / (len(strings) * decodes), len(strings), decodes, len(errors))
