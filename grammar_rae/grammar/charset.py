"""Character vocabularies for the character VAE, derived from a grammar's terminals.

The characters are those that occur in the grammar's terminals (``Cl`` gives ``C`` and ``l``)
plus a padding space; for the ZINC grammar that is the reference charset of 35. Strings are
written with their tokens joined without a separator (``sin(x)+1``), so expressions fit the
reference character length of 19; decoding tokenizes the characters again and returns the
grammar's canonical spacing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from grammar_rae.errors import GrammarRAEError, SequenceTooLong, TokenizeError
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.grammar.tokenizer import Tokenizer

PAD = " "


class CharCodec:
    """Strings <-> padded character-index arrays for one grammar's language."""

    def __init__(self, grammar: Grammar, max_length: int):
        self.grammar = grammar
        self.max_length = max_length
        self.tokenizer = Tokenizer(grammar)
        self.chars = (PAD, *sorted({c for t in grammar.terminals for c in t}))
        self.index = {c: i for i, c in enumerate(self.chars)}
        self._lookup = np.full(256, -1, dtype=np.int16)
        for char, i in self.index.items():
            self._lookup[ord(char)] = i

    @property
    def vocab_size(self) -> int:
        """Number of characters including the padding space."""
        return len(self.chars)

    def compact(self, text: str) -> str:
        """The character form of a string: its tokens joined without separators."""
        return "".join(self.tokenizer.tokenize(text))

    def encode(self, text: str) -> np.ndarray:
        """One string as a padded (max_length,) array of character indices."""
        compact = self.compact(text)
        if len(compact) > self.max_length:
            raise SequenceTooLong(f"{text!r} has {len(compact)} characters, more than {self.max_length}.")
        codes = self._lookup[np.frombuffer(compact.encode("ascii"), dtype=np.uint8)]
        if (codes < 0).any():
            raise TokenizeError(f"{text!r} has a character outside the vocabulary.")
        out = np.zeros(self.max_length, dtype=np.int8)
        out[: len(codes)] = codes
        return out

    def encode_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, dict[int, str]]:
        """Encode many strings; returns the (N, max_length) array and row → error for failures."""
        out = np.zeros((len(texts), self.max_length), dtype=np.int8)
        errors = {}
        for i, text in enumerate(texts):
            try:
                out[i] = self.encode(text)
            except (GrammarRAEError, UnicodeEncodeError) as exc:
                errors[i] = str(exc)
        return out, errors

    def decode(self, indices: Sequence[int]) -> str | None:
        """Characters up to the first padding, in the grammar's canonical spacing; None if the
        characters do not tokenize."""
        chars = []
        for i in indices:
            if int(i) == 0:
                break
            chars.append(self.chars[int(i)])
        try:
            return self.tokenizer.join(self.tokenizer.tokenize("".join(chars)))
        except TokenizeError:
            return None
