"""The molecule results (RAE paper, Table 4 / Grammar VAE, Table 2): GRAE, GCVAE, GVAE and CVAE
trained on ZINC250k, evaluated (reconstruction, validity from the ex-post GMM and from N(0, I),
the MOSES table on 30,000 samples), then the BO protocol on penalized logP (5 iterations × 50
points, the most frequent valid of 500 decodes per point, seeds 1-10) with a random-sampling
baseline; the top molecules are also given their raw penalized logP (logP − SA − cycle).

``preset`` is ``cpu`` (the one-hour-per-model CPU budget of docs/cpu-preset.md; results in
``results/molecules``) or ``paper`` (the published architecture and schedule, GPU work; results
in ``results/molecules-paper``). ``quick`` is the smoke-test scale: 20,000 molecules, one epoch,
seeds 1-2 of 3 iterations × 20 points with 100 decodes each, a lighter evaluation; ``tiny`` is
the scale tests use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from grammar_rae.evaluation.protocol import EvaluationSettings
from grammar_rae.models.config import preset_names
from grammar_rae.objectives.registry import companion_objectives
from grammar_rae.reproduce.pipeline import MODELS, Experiment
from grammar_rae.reproduce.scales import check_scale, make_tiny, quick_bo


def default_out(scale: str, preset: str) -> Path:
    """``results/molecules`` (cpu preset) or ``results/molecules-paper``, with ``-quick``/``-tiny``
    appended for the reduced scales."""
    name = "results/molecules" + ("" if preset == "cpu" else f"-{preset}")
    return Path(name if scale == "full" else f"{name}-{scale}")


def molecules_experiment(
    scale: str = "full",
    preset: str = "cpu",
    out: str | Path | None = None,
    models: Sequence[str] = MODELS,
    seeds: Sequence[int] | None = None,
    data: str | None = "zinc250k",
    device: str = "auto",
) -> Experiment:
    """The molecule experiment of the papers at one scale and preset.

    Args:
        scale: ``full``, ``quick`` or ``tiny``.
        preset: ``cpu`` or ``paper``.
        out: its folder (default: see ``default_out``).
        models: which models it trains.
        seeds: the BO seeds (default: the scale's).
        data: the data set.
        device: where training runs.
    """
    check_scale(scale)
    if preset not in preset_names():
        raise ValueError(f"Unknown preset {preset!r}: use one of {', '.join(preset_names())}.")
    experiment = Experiment(
        "molecules",
        "smiles",
        "penalized-logp",
        Path(out or default_out(scale, preset)),
        data=data,
        models=tuple(models),
        preset=preset,
        extra_objectives=companion_objectives("penalized-logp"),
        device=device,
    )
    if scale == "quick":
        experiment.training, experiment.seeds = {"epochs": 1, "max_molecules": 20_000, "test_size": 1000}, (1, 2)
        experiment.bo = quick_bo(attempts=100)
        experiment.evaluation = EvaluationSettings(
            test_strings=500, decodes=10, prior_points=300, prior_decodes=20, samples=2000
        )
    elif scale == "tiny":
        make_tiny(experiment)
    if seeds is not None:
        experiment.seeds = tuple(seeds)
    return experiment
