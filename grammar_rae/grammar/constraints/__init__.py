"""Semantic constraints: masks on top of the grammar's, applied step by step during decoding.

A grammar only says which productions may rewrite the nonterminal on top of the stack; a
language usually demands more (a SMILES ring digit must be closed, an atom's bonds must fit its
valence). A constraint module follows every row's derivation and, before each step, says which
of the grammar's candidates keep the derivation completable. Constraints are numpy only and
vectorised over rows, so they serve batched sampling, per-sample loops and beam search alike
(``grammar_rae.generation.decoding``).

Each grammar's constraints live in a module of their own, found by the grammar's name; grammars
without one get none.
"""

from __future__ import annotations

import importlib
from typing import Protocol

import numpy as np

from grammar_rae.errors import GrammarRAEError
from grammar_rae.grammar.cfg import Grammar

CONSTRAINT_SETTINGS = ("auto", "none")


class Constraints(Protocol):
    """What decoding needs from a constraint module (one row per decoded sequence)."""

    def allowed(self, top: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """(N, W) which candidate rules (N, W) may rewrite each row's top nonterminal (N,)."""

    def advance(self, rules: np.ndarray) -> None:
        """Apply each row's chosen rule (N,)."""

    def select(self, index: np.ndarray) -> None:
        """Keep rows ``index`` (in that order), as beam search reorders its hypotheses."""


CONSTRAINT_MODULES = {"smiles": "grammar_rae.grammar.constraints.smiles"}  # grammar name -> its constraint module


def has_constraints(grammar: Grammar) -> bool:
    """Whether a constraint module exists for this grammar."""
    return grammar.name in CONSTRAINT_MODULES


def make_constraints(
    grammar: Grammar, rows: int, steps: int | None = None, parts: tuple[str, ...] | None = None
) -> Constraints:
    """Fresh constraints for ``rows`` derivations of at most ``steps`` rules; ``parts`` picks some
    of a module's constraints (all by default), for measuring what each adds."""
    if grammar.name in CONSTRAINT_MODULES:
        module = importlib.import_module(CONSTRAINT_MODULES[grammar.name])  # imported on first use
        return module.CONSTRAINTS(grammar, rows, steps or grammar.max_length, parts or module.PARTS)
    raise GrammarRAEError(f"The {grammar.name} grammar has no semantic constraints: use --constraints none.")


def constraints_wanted(setting: str, grammar: Grammar) -> bool:
    """Whether ``--constraints auto|none`` turns constraints on for this grammar."""
    if setting not in CONSTRAINT_SETTINGS:
        raise GrammarRAEError(f"Unknown constraints setting '{setting}': use auto or none.")
    return setting == "auto" and has_constraints(grammar)
