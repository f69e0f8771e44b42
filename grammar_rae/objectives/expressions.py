"""The expression-fit objective of the Grammar VAE (protocol section 8), lower is better:
log(1 + mean(min((f(x) − f*(x))², 1000))) over linspace(−10, 10, 1000), with
f*(x) = 1/3 + x + sin(x·x). Invalid or non-finite expressions score log(1 + 1000).
Expressions are evaluated from their parse tree with numpy (never with ``eval``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from grammar_rae.data.expressions import GRID, evaluator
from grammar_rae.errors import GrammarRAEError

WORST_EXPR_FIT = float(np.log(1.0 + 1000.0))


def target(x: np.ndarray = GRID) -> np.ndarray:
    """f*(x) = 1/3 + x + sin(x·x), with true division."""
    return 1.0 / 3.0 + x + np.sin(x * x)


def expr_fit_one(text: str | None) -> float:
    """The expression-fit score of one expression (the worst value if invalid or non-finite)."""
    if text is None:
        return WORST_EXPR_FIT
    try:
        values = evaluator().evaluate(text)
    except GrammarRAEError:
        return WORST_EXPR_FIT
    if not np.isfinite(values).all():
        return WORST_EXPR_FIT
    with np.errstate(over="ignore"):
        error = np.minimum((values - target()) ** 2, 1000.0)
    return float(np.log1p(error.mean()))


def expr_fit(texts: Sequence[str | None]) -> np.ndarray:
    """Expression-fit scores of many expressions."""
    return np.array([expr_fit_one(t) for t in texts], dtype=np.float64)
