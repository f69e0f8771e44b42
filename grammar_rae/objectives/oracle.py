"""Objective calls counted as the PMO benchmark counts them, and its AUC of the top-k curve.

An oracle call is the first evaluation of a distinct valid molecule (by RDKit canonical SMILES):
a molecule proposed again, in any spelling, is answered from memory for free, and a string that is
no molecule is not a call (it gets the objective's worst value). Once the budget is spent, new
molecules are not scored (NaN). ``top_auc`` is PMO's area under the mean-of-the-top-k curve against
calls, logged every ``every`` calls, divided by the budget; a run that stops early carries its last
top-k to the budget (Gao et al., NeurIPS 2022, "Sample efficiency matters").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from grammar_rae.data.validity import canonical_many
from grammar_rae.objectives.registry import Objective


class Oracle:
    """An objective with PMO's call budget; ``scores`` holds every call in call order."""

    def __init__(self, objective: Objective, budget: int):
        if budget < 1:
            raise ValueError(f"An oracle budget is at least one call, not {budget}.")
        self.objective, self.budget = objective, budget
        self.scores: dict[str, float] = {}  # canonical SMILES → score, in the order the calls were made

    @property
    def calls(self) -> int:
        """Calls made so far."""
        return len(self.scores)

    @property
    def spent(self) -> bool:
        """Whether the budget is used up."""
        return self.calls >= self.budget

    def restore(self, calls: Sequence[tuple[str, float]]) -> None:
        """Take up earlier calls (canonical SMILES and score, in call order), e.g. to resume a run."""
        for smiles, score in calls:
            self.scores[smiles] = float(score)

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        """Scores of ``strings``: remembered, newly called while budget lasts, the worst value for
        what is no molecule, NaN for new molecules past the budget."""
        canonical = canonical_many("smiles", list(strings))
        new = [c for c in dict.fromkeys(canonical) if c is not None and c not in self.scores]
        new = new[: max(self.budget - self.calls, 0)]
        for smiles, score in zip(new, self.objective(new) if new else []):
            self.scores[smiles] = float(score)
        return np.array([self.objective.worst if c is None else self.scores.get(c, np.nan) for c in canonical])


def top_auc(scores: Sequence[float], budget: int, top: int = 10, every: int = 100, finished: bool = True) -> float:
    """PMO's AUC of the mean top-``top`` score against calls, in [0, max score]: the trapezoid
    rule over the mean of the best ``top`` so far, read every ``every`` calls and at the last call,
    divided by ``budget``.

    Args:
        scores: the scores in call order.
        budget: the calls a run may make.
        top: how many best scores are averaged.
        every: calls between readings.
        finished: a run short of the budget that has finished keeps its last value to the budget.
    """
    scores = np.asarray(scores[:budget], dtype=np.float64)
    if len(scores) == 0:
        return 0.0

    def best_mean(n: int) -> float:
        return float(np.sort(scores[:n])[::-1][:top].mean())

    area, previous, read = 0.0, 0.0, 0
    for n in range(every, len(scores), every):
        now = best_mean(n)
        area += every * (now + previous) / 2
        previous, read = now, n
    now = best_mean(len(scores))
    area += (len(scores) - read) * (now + previous) / 2
    if finished and len(scores) < budget:
        area += (budget - len(scores)) * now
    return area / budget
