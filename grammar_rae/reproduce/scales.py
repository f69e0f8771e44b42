"""The reduced scales every reproduction shares: ``tiny`` is what the tests run (seconds, not a
result); the ``quick`` and ``full`` scales belong to each experiment's own module."""

from __future__ import annotations

from grammar_rae.evaluation.protocol import EvaluationSettings
from grammar_rae.optimization.settings import BOSettings
from grammar_rae.optimization.surrogate import SurrogateSettings
from grammar_rae.reproduce.pipeline import Experiment

SCALES = ("full", "quick", "tiny")


def check_scale(scale: str) -> None:
    """Refuse an unknown scale in one sentence."""
    if scale not in SCALES:
        raise ValueError(f"Unknown scale {scale!r}: use one of {', '.join(SCALES)}.")


def quick_bo(**changes) -> BOSettings:
    """The ``quick`` scale's BO (both experiments): the protocol's start, 3 iterations of 20 points,
    a short search and surrogate fit; ``changes`` are an experiment's own settings."""
    return BOSettings(
        start="training",
        iterations=3,
        batch=20,
        restarts=1,
        raw_samples=32,
        surrogate=SurrogateSettings(epochs=5, warm_epochs=1),
        **changes,
    )


def make_tiny(experiment: Experiment) -> Experiment:
    """The tests' scale: 3,000 strings, one epoch, one seed of 2 × 4 points, a token evaluation."""
    experiment.training, experiment.seeds = {"epochs": 1, "max_molecules": 3_000, "test_size": 300}, (1,)
    experiment.bo = BOSettings(
        start="training",
        iterations=2,
        batch=4,
        attempts=5,
        raw_samples=32,
        restarts=1,
        surrogate=SurrogateSettings(inducing=50, epochs=2, warm_epochs=1, batch_size=1000),
    )
    experiment.evaluation = EvaluationSettings(
        test_strings=50, encodes=2, decodes=2, prior_points=20, prior_decodes=2, samples=100
    )
    return experiment
