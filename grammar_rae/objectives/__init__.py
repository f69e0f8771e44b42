"""Objectives: scores of strings (molecules and expressions), vectorised and safe on invalid input."""

from grammar_rae.objectives.molecules import PROPERTIES, properties
from grammar_rae.objectives.oracle import Oracle, top_auc
from grammar_rae.objectives.registry import (
    OBJECTIVE_NAMES,
    PMO_TASKS,
    Objective,
    ObjectiveError,
    get_objective,
    logp,
    objective_names,
    penalized_logp,
    qed,
)

__all__ = [
    "OBJECTIVE_NAMES",
    "PMO_TASKS",
    "PROPERTIES",
    "Objective",
    "ObjectiveError",
    "Oracle",
    "get_objective",
    "logp",
    "objective_names",
    "penalized_logp",
    "properties",
    "qed",
    "top_auc",
]
