"""Objectives by name, as vectorised functions over lists of strings that never raise on invalid
input: an invalid string gets the objective's documented worst value.

| name | strings | better | invalid ⇒ |
| --- | --- | --- | --- |
| ``penalized-logp`` | SMILES | higher | the lowest composite over ZINC250k |
| ``penalized-logp-raw`` | SMILES | higher | the lowest raw value over ZINC250k |
| ``logp`` | SMILES | higher | the lowest logP over ZINC250k |
| ``qed`` | SMILES | higher | 0 |
| ``expr-fit`` | expressions | lower | log(1 + 1000) |
| the PMO tasks (``albuterol_similarity`` … ``zaleplon_mpo``, see ``objectives.pmo``) | SMILES | higher | 0 |

``penalized-logp`` is z(logP) + z(−SA) + z(−cycle) standardised with the means and population
standard deviations over all 249,456 ZINC250k molecules, shipped in
``data/zinc250k_penalized_logp.json`` (recomputed from the data file by a test). Users can also
pass any Python callable, or ``module:function`` on the command line.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from grammar_rae.errors import GrammarRAEError
from grammar_rae.objectives.expressions import WORST_EXPR_FIT, expr_fit
from grammar_rae.objectives.molecules import property_table, standardised_composite
from grammar_rae.objectives.pmo import TASKS_FILE, task_function, task_names, task_specs
from grammar_rae.resources import shipped

STATISTICS_FILE = "zinc250k_penalized_logp.json"


class ObjectiveError(GrammarRAEError):
    """An objective is unknown, does not fit the model's grammar, or returns something unusable."""

    kind = "bad objective"


@dataclass(frozen=True)
class Objective:
    """A named, vectorised score of strings; ``maximize`` says which direction is better."""

    name: str
    function: Callable[[Sequence[str | None]], Sequence[float]]
    worst: float
    maximize: bool = True
    grammar: str | None = None
    description: str = ""
    version: str = ""  # changes when the definition's data changes, so cached scores are recomputed

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        """Scores of ``strings``; invalid strings (and NaN scores) get ``worst``."""
        try:
            values = np.asarray(self.function(list(strings)), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ObjectiveError(f"The objective {self.name} did not return numbers ({exc}).") from exc
        if values.shape != (len(strings),):
            raise ObjectiveError(f"The objective {self.name} returned {values.size} values for {len(strings)} strings.")
        return np.where(np.isfinite(values), values, self.worst)

    def check_grammar(self, grammar_name: str) -> None:
        """Raise a clear error if this objective scores strings of another grammar."""
        if self.grammar is not None and self.grammar != grammar_name:
            raise ObjectiveError(
                f"The objective {self.name} scores {self.grammar} strings, but the model generates {grammar_name} strings."
            )


@lru_cache(maxsize=1)
def zinc_standardisation() -> dict:
    """The shipped ZINC250k statistics of logP, SA and the cycle penalty."""
    return json.loads((shipped("grammar_rae.datafiles") / STATISTICS_FILE).read_text())


@lru_cache(maxsize=1)
def statistics_version() -> str:
    """A short digest of the shipped statistics: the version of the objectives built on them."""
    return hashlib.sha256((shipped("grammar_rae.datafiles") / STATISTICS_FILE).read_bytes()).hexdigest()[:12]


def _columns(smiles: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    table = property_table(smiles)
    return table[:, 0], table[:, 1], table[:, 2], table[:, 3]


def penalized_logp(smiles: Sequence[str | None]) -> np.ndarray:
    """z(logP) + z(−SA) + z(−cycle), standardised over ZINC250k (NaN for invalid SMILES)."""
    logp, _, sa, cycle = _columns(smiles)
    return standardised_composite(logp, sa, cycle, zinc_standardisation())


def penalized_logp_raw(smiles: Sequence[str | None]) -> np.ndarray:
    """logP − SA − cycle (NaN for invalid SMILES)."""
    logp, _, sa, cycle = _columns(smiles)
    return logp - sa - cycle


def logp(smiles: Sequence[str | None]) -> np.ndarray:
    """Crippen logP (NaN for invalid SMILES)."""
    return _columns(smiles)[0]


def qed(smiles: Sequence[str | None]) -> np.ndarray:
    """QED drug-likeness in [0, 1] (NaN for invalid SMILES)."""
    return _columns(smiles)[1]


@lru_cache(maxsize=1)
def pmo_version() -> str:
    """A short digest of the shipped PMO task definitions."""
    return hashlib.sha256((shipped("grammar_rae.datafiles") / TASKS_FILE).read_bytes()).hexdigest()[:12]


def _builtin(name: str) -> Objective:
    if name in PMO_TASKS:
        terms = len(task_specs()[name]["terms"])
        return Objective(
            name,
            task_function(name),
            0.0,
            True,
            "smiles",
            f"PMO / GuacaMol task {name} ({terms} term{'s' if terms > 1 else ''}, in [0, 1])",
            pmo_version(),
        )
    if name == "expr-fit":
        return Objective(
            name,
            expr_fit,
            WORST_EXPR_FIT,
            False,
            "expr",
            "log(1 + mean(min((f(x) - f*(x))^2, 1000))), f* = 1/3 + x + sin(x*x)",
        )
    if name == "qed":
        return Objective(name, qed, 0.0, True, "smiles", "QED drug-likeness")
    stats = zinc_standardisation()
    version = statistics_version()
    return {
        "penalized-logp": Objective(
            name,
            penalized_logp,
            stats["composite_min"],
            True,
            "smiles",
            "z(logP) + z(-SA) + z(-cycle), standardised over ZINC250k",
            version,
        ),
        "penalized-logp-raw": Objective(
            name, penalized_logp_raw, stats["raw_min"], True, "smiles", "logP - SA - cycle", version
        ),
        "logp": Objective(name, logp, stats["logp_min"], True, "smiles", "Crippen logP"),
    }[name]


PMO_TASKS = tuple(task_names())  # with qed, the 20 RDKit-only tasks of the PMO benchmark
OBJECTIVE_NAMES = ("penalized-logp", "penalized-logp-raw", "logp", "qed", "expr-fit", *PMO_TASKS)


# objectives reported beside another for its top strings (the raw penalized logP most papers quote)
COMPANIONS = {"penalized-logp": ("penalized-logp-raw",)}


def companion_objectives(name: str) -> tuple[str, ...]:
    """Names of the objectives also reported for the top strings of objective ``name``."""
    return COMPANIONS.get(name, ())


def objective_names() -> list[str]:
    """Names of the built-in objectives."""
    return list(OBJECTIVE_NAMES)


def get_objective(spec: str | Objective | Callable, worst: float | None = None, maximize: bool = True) -> Objective:
    """An objective from a built-in name, a ``module:function`` reference, an Objective, or a
    callable taking a list of strings. User functions get ``worst`` for invalid strings
    (default: NaN scores become −1e3 when maximising, +1e3 when minimising)."""
    if isinstance(spec, Objective):
        return spec
    fallback = worst if worst is not None else (-1e3 if maximize else 1e3)
    if callable(spec):
        return Objective(getattr(spec, "__name__", "custom"), spec, fallback, maximize)
    if spec in OBJECTIVE_NAMES:
        return _builtin(spec)
    if ":" not in spec:
        raise ObjectiveError(
            f"Unknown objective {spec!r}: use one of {', '.join(OBJECTIVE_NAMES)}, or module:function."
        )
    module_name, _, attribute = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ObjectiveError(f"Cannot load the objective {spec!r} ({exc}).") from exc
    if not callable(function):
        raise ObjectiveError(f"{spec} is not a function.")
    return Objective(spec, function, fallback, maximize)
