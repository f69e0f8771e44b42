"""Reconstruction accuracy (protocol section 7): encode, decode, compare strings exactly.

The reference protocol encodes each of 5,000 test molecules 10 times (draws from the encoder's
distribution for the VAEs and GCVAE; one deterministic code for GRAE), decodes each encoding 100 times with sampling,
and reports the fraction of decodes equal to the input string.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from grammar_rae.generation.trained import TrainedModel
from grammar_rae.progress import progress_bar


@dataclass
class Reconstruction:
    """Fraction of decodes equal to their input, over ``n`` inputs × ``encodes`` × ``decodes``."""

    accuracy: float
    n: int
    encodes: int
    decodes: int
    mode: str
    failed_inputs: int

    def to_dict(self) -> dict:
        """Plain values for JSON."""
        return asdict(self)


def reconstruction_accuracy(
    model: TrainedModel,
    strings: list[str],
    encodes: int = 1,
    decodes: int = 1,
    mode: str = "argmax",
    seed: int = 0,
    chunk: int = 500,
    beam: int = 5,
) -> Reconstruction:
    """How often decoding a string's code gives the string back, counted as exact matches with the
    input written in the model's form (for molecules RDKit's canonical SMILES, Kekulé where the model
    trained so, so that any spelling of a molecule counts). Strings the model cannot encode count as
    failures.

    Args:
        model: the trained model.
        strings: the strings to encode and decode.
        encodes: encodings per string (draws from stochastic encoders when above 1, else the
            deterministic code).
        decodes: decodes per encoding.
        mode: ``argmax``, ``sample``, or ``beam`` (one decode with ``beam`` hypotheses).
        seed: the random seed of draws and sampled decodes.
        chunk: strings encoded and decoded at once.
        beam: hypotheses of beam search.
    """
    if mode == "beam":
        decodes = 1
    generator = torch.Generator(device=model.device).manual_seed(seed)
    targets, indices, errors = model.read(list(strings))  # a decode counts when it equals the input in the model's form
    ok = np.setdiff1d(np.arange(len(strings)), list(errors))
    hits = 0
    with progress_bar(total=len(ok) * encodes, desc="reconstruction", unit=" codes") as bar:
        for start in range(0, len(ok), chunk):
            rows = ok[start : start + chunk]
            for _ in range(encodes):
                codes = model.encode_indices(indices, rows, encodes > 1, generator, chunk)
                decoded = (
                    [[text] for text in model.decode(codes, "beam", beam=beam)]
                    if mode == "beam"
                    else model.decode_attempts(codes, decodes, mode, generator)
                )
                hits += sum(row.count(targets[i]) for row, i in zip(decoded, rows))
                bar.update(len(rows))
    return Reconstruction(hits / (len(strings) * encodes * decodes), len(strings), encodes, decodes, mode, len(errors))
