"""Random strings of a grammar, uniform over all strings of at most a given number of productions.

This is how a data set comparable to the Grammar VAE's expression set (expressions of at most
15 productions) is made from the grammar itself, with no download. Derivations are counted by
size (a small dynamic programme over exact big-integer counts), then drawn top-down with every
choice weighted by how many completions it leaves, so each derivation of at most
``max_productions`` productions is equally likely — for an unambiguous grammar, each string.
Uniform sampling puts most mass on the longest strings, as the reference set does (which a
production-by-production uniform choice does not: it over-produces short ones). Duplicates are
dropped. Written by hand because it is a few lines over the grammar tables; nltk's
``generate`` enumerates exhaustively rather than sampling.
"""

from __future__ import annotations

import random

from grammar_rae.errors import GrammarError
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.grammar.codec import Codec
from grammar_rae.progress import progress_bar


class DerivationSampler:
    """Draws leftmost derivations of the start symbol, uniformly among those of ≤ ``max_productions``."""

    def __init__(self, grammar: Grammar, max_productions: int):
        self.grammar, self.max_productions = grammar, max_productions
        self.rhs = grammar.rule_rhs_nonterminals
        self.rules_of = [
            [r for r in range(grammar.n_rules) if grammar.lhs_mask[lhs, r] and r != grammar.padding_rule]
            for lhs in range(len(grammar.lhs_list))
        ]
        self.exact = [[0] * (max_productions + 1) for _ in grammar.lhs_list]
        self._counts: dict[tuple[tuple[int, ...], int], int] = {}
        for size in range(1, max_productions + 1):  # sizes below `size` are final when it is computed
            for lhs, rules in enumerate(self.rules_of):
                self.exact[lhs][size] = sum(self.sequence_count(self.rhs[r], size - 1) for r in rules)
        self.total = sum(self.exact[grammar.start_lhs])

    def sequence_count(self, symbols: tuple[int, ...], size: int) -> int:
        """Derivations of the nonterminals ``symbols``, in order, with exactly ``size`` productions."""
        if not symbols:
            return int(size == 0)
        key = (symbols, size)
        if key not in self._counts:
            head, rest = symbols[0], symbols[1:]
            self._counts[key] = sum(
                self.exact[head][j] * self.sequence_count(rest, size - j) for j in range(1, size + 1)
            )
        return self._counts[key]

    @staticmethod
    def _pick(weights: list[int], rng: random.Random) -> int:
        ticket = rng.randrange(sum(weights))
        for i, weight in enumerate(weights):
            if ticket < weight:
                return i
            ticket -= weight
        raise AssertionError("unreachable: the ticket is below the total")

    def draw(self, rng: random.Random) -> list[int]:
        """One derivation (production indices, leftmost order)."""
        size = self._pick(self.exact[self.grammar.start_lhs], rng)
        return self._derive((self.grammar.start_lhs,), size, rng)

    def _derive(self, symbols: tuple[int, ...], size: int, rng: random.Random) -> list[int]:
        out: list[int] = []
        for position, symbol in enumerate(symbols):
            rest = symbols[position + 1 :]
            own = 1 + self._pick(
                [self.exact[symbol][j] * self.sequence_count(rest, size - j) for j in range(1, size + 1)], rng
            )
            rules = self.rules_of[symbol]
            rule = rules[self._pick([self.sequence_count(self.rhs[r], own - 1) for r in rules], rng)]
            out.append(rule)
            out += self._derive(self.rhs[rule], own - 1, rng)
            size -= own
        return out


def generate_strings(grammar: Grammar, n: int, max_productions: int, seed: int = 0) -> list[str]:
    """Distinct random strings of a grammar, in the order drawn.

    Args:
        grammar: the grammar.
        n: how many distinct strings.
        max_productions: the longest derivation drawn.
        seed: the random seed.
    """
    sampler = DerivationSampler(grammar, max_productions)
    if sampler.total < n:
        raise GrammarError(
            f"The {grammar.name} grammar has only {sampler.total:,} strings of at most "
            f"{max_productions} productions: ask for fewer or allow more productions."
        )
    codec = Codec(grammar, max(max_productions, grammar.max_length))
    rng = random.Random(seed)
    seen: dict[str, None] = {}
    with progress_bar(total=n, desc="generating", unit="string") as bar:
        while len(seen) < n:
            text = codec.decode(sampler.draw(rng))
            if text not in seen:
                seen[text] = None
                bar.update()
    return list(seen)
