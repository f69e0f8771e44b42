"""Evaluating arithmetic expressions of the expression grammar with numpy, without ``eval``.

An expression is parsed with the grammar (so only strings of the language are accepted) and
its derivation is evaluated bottom-up: each production's right-hand side says what to do with
the values of its nonterminals — a binary operator between two of them (``+ * /``), a unary
function around one (``sin( … )``, ``exp( … )``, brackets), or a leaf (``x`` or a number).
The operations are data in the tables below, so a grammar with other terminals fails with a
clear error instead of being guessed at.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np

from grammar_rae.errors import GrammarRAEError
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.grammar.parser import Parser
from grammar_rae.grammar.symbols import Nonterminal

GRID = np.linspace(-10.0, 10.0, 1000)  # protocol section 8: the points an expression is scored on

_BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
_UNARY = {"(": lambda v: v, "sin(": np.sin, "exp(": np.exp, "cos(": np.cos, "log(": np.log}
_VARIABLE = "x"


class ExpressionEvaluator:
    """Evaluate strings of an expression grammar at a vector of x values."""

    def __init__(self, grammar: Grammar):
        self.grammar = grammar
        self.parser = Parser(grammar)
        self._steps = [self._step(tuple(p.rhs())) for p in grammar.productions]

    def _step(self, rhs: tuple) -> tuple[str, object]:
        terminals = [s for s in rhs if not isinstance(s, Nonterminal)]
        arity = len(rhs) - len(terminals)
        if arity == 0 and len(terminals) == 1:
            leaf = terminals[0]
            if leaf == _VARIABLE:
                return "x", None
            try:
                return "constant", float(leaf)
            except ValueError:
                pass
        if arity == 1 and not terminals:
            return "pass", None
        if arity == 1 and len(terminals) == 2 and terminals[0] in _UNARY and terminals[1] == ")":
            return "unary", _UNARY[terminals[0]]
        if arity == 2 and len(terminals) == 1 and terminals[0] in _BINARY and isinstance(rhs[0], Nonterminal):
            return "binary", _BINARY[terminals[0]]
        if not rhs or terminals == ["None"]:
            return "padding", None
        return "unknown", " ".join(str(s) for s in rhs)

    def evaluate(self, text: str, x: np.ndarray = GRID) -> np.ndarray:
        """Values of ``text`` at ``x`` (inf/NaN where the arithmetic overflows or divides by 0).

        Raises :class:`GrammarRAEError` if ``text`` is not an expression of the grammar.
        """
        rules = iter(self.parser.parse(text))
        with np.errstate(all="ignore"):
            return np.broadcast_to(self._value(rules, np.asarray(x, dtype=np.float64)), np.shape(x)).astype(np.float64)

    def _value(self, rules: Iterator[int], x: np.ndarray):
        kind, operation = self._steps[next(rules)]
        if kind == "x":
            return x
        if kind == "constant":
            return operation
        if kind == "pass":
            return self._value(rules, x)
        if kind == "unary":
            return operation(self._value(rules, x))
        if kind == "binary":
            left = self._value(rules, x)
            return operation(left, self._value(rules, x))
        raise GrammarRAEError(
            f"The {self.grammar.name} grammar has a production ({operation}) with no numeric meaning."
        )

    def finite(self, text: str | None, x: np.ndarray = GRID) -> bool:
        """True if ``text`` is an expression whose values are finite at every point of ``x``."""
        if text is None:
            return False
        try:
            return bool(np.isfinite(self.evaluate(text, x)).all())
        except GrammarRAEError:
            return False


@lru_cache(maxsize=4)
def evaluator(grammar_name: str = "expr") -> ExpressionEvaluator:
    """The (cached) evaluator of a shipped or named grammar."""
    return ExpressionEvaluator(Grammar.load(grammar_name))
