"""Tokenizers derived from a grammar's terminals.

The token set is exactly the grammar's terminal set, matched longest first, so multi-character
terminals (``Cl``, ``Br``, ``@@`` for SMILES; ``sin(``, ``exp(`` for expressions) need no hand
list. Grammars whose separator is whitespace (expressions) accept any whitespace between
tokens; others (SMILES) accept none.
"""

from __future__ import annotations

import re

from grammar_rae.errors import EmptyInput, TokenizeError
from grammar_rae.grammar.cfg import Grammar


class Tokenizer:
    """Split strings into the terminals of one grammar (longest match first)."""

    def __init__(self, grammar: Grammar):
        self.grammar = grammar
        terminals = sorted(grammar.terminals, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(t) for t in terminals))
        self._split_whitespace = grammar.separator != "" and grammar.separator.strip() == ""

    def tokenize(self, text: str) -> list[str]:
        """Return the tokens of ``text`` or raise :class:`TokenizeError` naming the bad spot."""
        pieces = text.split() if self._split_whitespace else [text]
        if not text or not pieces:
            raise EmptyInput("Empty input: there is nothing to parse.")
        tokens: list[str] = []
        for piece in pieces:
            found = self._pattern.findall(piece)
            if "".join(found) != piece:
                self._raise_at_first_unknown(text, piece)
            tokens.extend(found)
        return tokens

    def _raise_at_first_unknown(self, text: str, piece: str) -> None:
        pos = 0
        while pos < len(piece):
            match = self._pattern.match(piece, pos)
            if match is None:
                break
            pos = match.end()
        where = text.find(piece) + pos
        raise TokenizeError(
            f"Unknown token {text[where]!r} at position {where} of {text!r}: "
            f"it is not a terminal of the {self.grammar.name} grammar."
        )

    def join(self, tokens: list[str]) -> str:
        """The inverse of :meth:`tokenize` on canonical text."""
        return self.grammar.separator.join(tokens)
