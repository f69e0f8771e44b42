"""Nonterminals and productions as small value objects with nltk's interface and text.

Why not nltk's own classes: importing ``nltk`` loads the whole toolkit (about 1.7 s on a
laptop core), which every command that touches a grammar would pay. nltk stays the grammar's
source of truth: a grammar file is read by ``nltk.CFG.fromstring`` and its productions are
converted with :func:`from_nltk` (the result is cached, see ``Grammar.from_text``). These
classes answer ``lhs()``, ``rhs()`` and ``symbol()`` as nltk's do, and ``str()`` of a
production is nltk's text exactly, so grammar hashes computed from it are unchanged.
Terminals are plain strings, as in nltk.
"""

from __future__ import annotations


class Nonterminal:
    """A nonterminal symbol, equal to another when their names are equal."""

    __slots__ = ("_symbol",)

    def __init__(self, symbol: str):
        self._symbol = symbol

    def symbol(self) -> str:
        """The name."""
        return self._symbol

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Nonterminal) and self._symbol == other._symbol

    def __lt__(self, other: Nonterminal) -> bool:
        return self._symbol < other._symbol

    def __hash__(self) -> int:
        return hash(("Nonterminal", self._symbol))

    def __repr__(self) -> str:
        return self._symbol

    def __getstate__(self) -> str:
        return self._symbol

    def __setstate__(self, state: str) -> None:
        self._symbol = state


class Production:
    """``lhs -> rhs``: a nonterminal and a tuple of nonterminals and terminal strings."""

    __slots__ = ("_lhs", "_rhs")

    def __init__(self, lhs: Nonterminal, rhs: tuple):
        self._lhs, self._rhs = lhs, tuple(rhs)

    def lhs(self) -> Nonterminal:
        return self._lhs

    def rhs(self) -> tuple:
        return self._rhs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Production) and (self._lhs, self._rhs) == (other._lhs, other._rhs)

    def __hash__(self) -> int:
        return hash((self._lhs, self._rhs))

    def __str__(self) -> str:  # nltk's text: terminals quoted by repr, nonterminals by name
        return f"{self._lhs} -> " + " ".join(repr(s) if isinstance(s, str) else str(s) for s in self._rhs)

    __repr__ = __str__

    def __getstate__(self) -> tuple:
        return self._lhs, self._rhs

    def __setstate__(self, state: tuple) -> None:
        self._lhs, self._rhs = state

    def to_record(self) -> list:
        """``[lhs, [[is_nonterminal, name or text], ...]]``, the form the grammar cache stores."""
        return [
            self._lhs.symbol(),
            [[not isinstance(s, str), s if isinstance(s, str) else s.symbol()] for s in self._rhs],
        ]

    @classmethod
    def from_record(cls, record: list) -> Production:
        lhs, rhs = record
        return cls(Nonterminal(lhs), tuple(Nonterminal(name) if nonterminal else name for nonterminal, name in rhs))


def from_nltk(production) -> Production:
    """The same production built from an ``nltk.grammar.Production``."""
    return Production(
        Nonterminal(production.lhs().symbol()),
        tuple(s if isinstance(s, str) else Nonterminal(s.symbol()) for s in production.rhs()),
    )
