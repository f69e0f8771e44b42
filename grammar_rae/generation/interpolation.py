"""Decoding points on the line between the codes of two strings (the RAE paper's Figure 1 demo)."""

from __future__ import annotations

import numpy as np

from grammar_rae.errors import GrammarRAEError
from grammar_rae.generation.refinement import REFINE_STEPS
from grammar_rae.generation.trained import TrainedModel


def encode_strict(model: TrainedModel, strings: list[str], refine: int = 0) -> np.ndarray:
    """Codes of ``strings``, refined by at most ``refine`` steps so that they decode back
    (``TrainedModel.encode_refined``); raises a clear error naming the first string that cannot be encoded."""
    codes, _, errors = model.encode_refined(strings, steps=refine)
    if errors:
        row = min(errors)
        raise GrammarRAEError(f"Cannot encode input {row + 1}: {errors[row]}")
    return codes


def interpolate(
    model: TrainedModel,
    start: str,
    end: str,
    steps: int = 8,
    mode: str = "argmax",
    candidates: int = 100,
    refine: int = REFINE_STEPS,
) -> list[tuple[float, str | None]]:
    """Points t = 0 … 1 on the segment from the code of ``start`` to that of ``end``, each with its
    decoded string (None: no complete derivation).

    Args:
        model: the trained model.
        start, end: the two strings (molecules in any spelling RDKit reads).
        steps: points on the segment, both ends included.
        mode: how each point is decoded (``argmax``, ``sample``, ``beam`` or ``nearest``).
        candidates: decodes per point compared by ``nearest``.
        refine: at most this many refinement steps for each end's code, so that greedy decoding
            gives the end back (``TrainedModel.encode_refined``); 0 keeps the encoder's codes, as
            ``nearest`` always does: it ranks candidates by their encoder codes' distance to the point,
            which a refined end has left (docs/latent-space.md).
    """
    if steps < 2:
        raise GrammarRAEError(f"Interpolation needs at least 2 steps, not {steps}.")
    a, b = encode_strict(model, [start, end], 0 if mode == "nearest" else refine)
    ts = np.linspace(0.0, 1.0, steps)
    points = (1 - ts)[:, None] * a + ts[:, None] * b
    return list(zip(ts.tolist(), model.decode(points, mode=mode, candidates=candidates)))
