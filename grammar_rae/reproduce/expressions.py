"""The GrammarRAE expression results (RAE paper, Figure 2): GRAE, GCVAE, GVAE and CVAE trained
on the 100,000-expression set with the paper preset (protocol section 4), then the BO protocol
on expression fit (5 iterations × 50 points, 25 decodes per point, seeds 1-10) with a
random-sampling baseline. The whole pipeline fits on a 2-core CPU (about 25 minutes of training
per model).

``quick`` is the smoke-test scale: 20,000 expressions, 3 epochs, seeds 1-2 of 3 iterations × 20
points, a lighter evaluation and GP fit; ``tiny`` is the scale tests use (seconds, not a result).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from grammar_rae.evaluation.protocol import EvaluationSettings
from grammar_rae.reproduce.pipeline import MODELS, Experiment
from grammar_rae.reproduce.scales import check_scale, make_tiny, quick_bo


def expressions_experiment(
    scale: str = "full",
    out: str | Path | None = None,
    models: Sequence[str] = MODELS,
    seeds: Sequence[int] | None = None,
    data: str | None = "expr100k",
    device: str = "auto",
) -> Experiment:
    """The expression experiment of the papers at one scale.

    Args:
        scale: ``full``, ``quick`` or ``tiny``.
        out: its folder (default ``results/expressions`` for the full scale, ``results/expressions-SCALE``
            otherwise).
        models: which models it trains.
        seeds: the BO seeds (default: the scale's).
        data: the data set.
        device: where training runs.
    """
    check_scale(scale)
    out = Path(out or ("results/expressions" if scale == "full" else f"results/expressions-{scale}"))
    experiment = Experiment("expressions", "expr", "expr-fit", out, data=data, models=tuple(models), device=device)
    if scale == "quick":
        experiment.training, experiment.seeds = {"epochs": 3, "max_molecules": 20_000, "test_size": 1000}, (1, 2)
        experiment.bo = quick_bo()
        experiment.evaluation = EvaluationSettings(
            test_strings=1000, decodes=10, prior_points=500, prior_decodes=20, samples=5000
        )
    elif scale == "tiny":
        make_tiny(experiment)
    if seeds is not None:
        experiment.seeds = tuple(seeds)
    return experiment
