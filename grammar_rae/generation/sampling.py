"""Generating strings: fit or load a run's ex-post density, draw latent points, decode them.

With ``attempts`` K > 1 each point is decoded K times (stochastically) and the most frequent
valid string is kept, as the reference Bayesian optimisation does; a point none of whose
decodes is valid gives None.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from grammar_rae.data.validity import valid_mask
from grammar_rae.errors import GrammarRAEError
from grammar_rae.generation.density import LatentDensity, default_components
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.progress import progress_bar

logger = logging.getLogger(__name__)


def fit_density(
    model: TrainedModel,
    kind: str = "gmm",
    components: int | None = None,
    seed: int = 0,
    save: bool = True,
    faithful: float | None = None,
) -> LatentDensity:
    """Fit a density to the codes of the run's training split (posterior means for VAEs); a kernel
    keeps only codes that decode faithfully (:func:`faithful_codes`).

    Args:
        model: the trained model.
        kind: ``gmm``, ``kernel``, ``gaussian`` or ``prior`` (see ``DENSITIES``).
        components: mixture components of a GMM, codes a kernel keeps (None: 10, ``KERNEL_CENTRES``).
        seed: the fit's random seed.
        save: store it in the run's work folder.
        faithful: the similarity a kernel's codes must decode to (0: every code; None: the
            language's default, :func:`faithfulness`).
    """
    components = default_components(kind) if components is None else components
    wanted = faithfulness(model, kind, faithful)
    codes = model.codes("train") if kind != "prior" else np.zeros((1, model.latent_dim))
    kept_faithful = wanted
    if kind == "kernel" and wanted > 0:
        order = np.random.default_rng(seed).permutation(len(codes))
        strings = model.data.strings("train")
        kept = faithful_codes(model, codes[order], [strings[i] for i in order], wanted, components)
        why = f"Only {len(kept)} of the {len(codes):,} training codes decode to their own string with a similarity of {wanted:g} or more"
        if len(kept) >= 2:
            codes = codes[order[kept]]
        elif faithful is not None:
            raise GrammarRAEError(f"{why}: give a lower --faithful, or 0 for every code.")
        else:  # the language's default asks too much of this model (an early or small run): every code
            logger.warning(f"{why}: the kernel keeps every code, as --faithful 0 does.")
            kept_faithful = 0.0
    density = LatentDensity(kind, components, seed, faithful=kept_faithful).fit(codes)
    if save and model.run is not None:  # under the similarity asked for, so that the next call finds it
        density.save(model.run.density(kind, components, wanted))
    return density


def faithful_codes(
    model: TrainedModel, codes: np.ndarray, strings: Sequence[str], threshold: float, wanted: int, chunk: int = 5000
) -> np.ndarray:
    """Indices of the codes whose greedy decode is like their own string (the language's similarity,
    Morgan Tanimoto for molecules, at least ``threshold``), taken in the order given until ``wanted``
    are found. Many training codes decode greedily to a similar, different string; a kernel on
    the codes that decode like their strings samples strings much closer to the data
    (docs/latent-space.md, "A kernel on faithful codes").

    Args:
        model: the trained model.
        codes: the candidate codes (N, d), in the order they are tried.
        strings: each code's own string, in the model's form.
        threshold: the similarity a decode must reach, 0 to 1.
        wanted: how many codes to keep at most.
        chunk: codes decoded at once.
    """
    similarity = model.domain.similarity
    kept: list[int] = []
    with progress_bar(total=wanted, desc="keeping codes that decode faithfully", unit=" codes") as bar:
        for start in range(0, len(codes), chunk):
            decoded = model.decode(codes[start : start + chunk], "argmax")
            found = [start + i for i, text in enumerate(decoded) if similarity(text, strings[start + i]) >= threshold]
            kept += found[: wanted - len(kept)]
            bar.update(len(kept) - bar.n)
            if len(kept) >= wanted:
                break
    return np.asarray(kept, dtype=np.int64)


def default_density(model: TrainedModel) -> str:
    """The density ``sample`` draws from when none is named: the prior for VAEs (what they were
    trained to decode), else a kernel density on the training codes (closest to the data of the
    densities measured, docs/latent-space.md)."""
    return "prior" if model.network.variational else "kernel"


def faithfulness(model: TrainedModel, kind: str, asked: float | None = None) -> float:
    """The similarity the codes of a density of this kind decode to: for a kernel the one asked
    for, or when None the language's (0.4 for molecules, chosen by measurement, docs/latent-space.md;
    0, every code, for others); 0 for the other kinds, which keep every code."""
    if kind != "kernel":
        return 0.0
    return model.domain.faithful if asked is None else asked


def run_density(
    model: TrainedModel,
    kind: str = "gmm",
    components: int | None = None,
    seed: int = 0,
    faithful: float | None = None,
) -> tuple[LatentDensity, bool]:
    """The run's stored density of this kind, or a newly fitted (and stored) one; the flag says
    whether it was fitted now.

    Args:
        model: the trained model.
        kind: ``gmm``, ``kernel``, ``gaussian`` or ``prior``.
        components: mixture components of a GMM, codes a kernel keeps (None: the kind's default).
        seed: the fit's random seed, when it is fitted now.
        faithful: the similarity a kernel's codes must decode to (0: every code; None: :func:`faithfulness`).
    """
    if kind == "prior":
        return fit_density(model, kind, save=False), False
    components = default_components(kind) if components is None else components
    wanted = faithfulness(model, kind, faithful)
    for path in model.run.stored(model.run.density(kind, components, wanted)) if model.run is not None else []:
        if path.exists():  # a shipped model's density is in its own folder
            return LatentDensity.load(path), False
    return fit_density(model, kind, components, seed, faithful=faithful), True


def samples_file(model: TrainedModel, name: str) -> Path:
    """``<work folder>/samples/NAME.smi`` (molecules) or ``.txt`` (other grammars)."""
    return model.run.samples(name, model.domain.suffix)


def most_frequent_valid(
    candidates: Sequence[Sequence[str | None]], grammar_name: str, workers: int | None = None
) -> list[str | None]:
    """For each point, the most frequent valid string among its decodes (ties: the first seen)."""
    counts = [Counter(c for c in row if c is not None) for row in candidates]
    distinct = list({text for count in counts for text in count})
    valid = dict(zip(distinct, valid_mask(grammar_name, distinct, workers)))
    return [next((text for text, _ in count.most_common() if valid[text]), None) for count in counts]


@dataclass
class Samples:
    """Latent points and the strings decoded from them (None: no valid string)."""

    z: np.ndarray
    strings: list[str | None]


def decode_points(
    model: TrainedModel,
    z: np.ndarray,
    mode: str = "sample",
    attempts: int = 1,
    seed: int = 0,
    chunk: int = 1000,
    temperature: float = 1.0,
) -> list[str | None]:
    """Decode latent points, keeping for each the most frequent valid of its decodes (with one
    attempt, the single decode as it is).

    Args:
        model: the trained model.
        z: the points (N, d).
        mode: ``sample``, ``argmax`` or ``beam``.
        attempts: decodes per point.
        seed: the random seed of sampled decodes.
        chunk: points decoded at once.
        temperature: divides the logits before sampling.
    """
    generator = torch.Generator(device=model.device).manual_seed(seed)
    strings: list[str | None] = []
    with progress_bar(total=len(z), desc="decoding", unit=" points") as bar:
        for start in range(0, len(z), chunk):
            batch = model.decode_attempts(
                z[start : start + chunk], attempts, mode, generator, temperature=temperature, advance=bar.update
            )
            strings += [row[0] for row in batch] if attempts == 1 else most_frequent_valid(batch, model.grammar.name)
    return strings


def sample(
    model: TrainedModel,
    n: int,
    density: LatentDensity | str | None = None,
    mode: str = "argmax",
    attempts: int = 1,
    seed: int = 0,
    temperature: float = 1.0,
) -> Samples:
    """Draw points from a density and decode them.

    Args:
        model: the trained model.
        n: how many points.
        density: a density, or the name of the run's density (``kernel``, ``gmm``, ``gaussian``, ``prior``;
            None: :func:`default_density`).
        mode: ``argmax`` (the default: greedy decoding is closest to the data, docs/latent-space.md),
            ``sample`` (each rule drawn) or ``beam`` (a beam of 5).
        attempts: decodes per point; the most frequent valid one is kept.
        seed: the random seed of the draws and of sampled decodes.
        temperature: divides the logits before sampling.
    """
    if n < 1:
        raise GrammarRAEError(f"The number of samples must be at least 1, not {n}.")
    if density is None or isinstance(density, str):
        density, _ = run_density(model, density or default_density(model))
    z = density.sample(n, seed=seed)
    # beam: the most probable derivation a beam of 5 finds, closer to the data, about 6x slower than argmax
    if mode == "beam":
        return Samples(z, model.decode(z, "beam"))
    return Samples(z, decode_points(model, z, mode, attempts, seed, temperature=temperature))
