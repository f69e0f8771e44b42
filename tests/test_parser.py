"""The GLR parser returns exactly nltk.ChartParser's first tree, and fails clearly."""

from __future__ import annotations

import multiprocessing

import nltk
import pytest

from grammar_rae import Grammar, Parser
from grammar_rae.errors import ParseError, TokenizeError
from grammar_rae.grammar.parser import production_sequence


def _nltk_sequences(args: tuple[str, list[str]]) -> list[list[int]]:
    grammar_name, texts = args
    grammar = Grammar.load(grammar_name)
    parser = Parser(grammar)
    chart = nltk.ChartParser(grammar.cfg)
    return [production_sequence(grammar, next(chart.parse(parser.tokenizer.tokenize(t)))) for t in texts]


def _nltk_reference(grammar_name: str, texts: list[str]) -> list[list[int]]:
    """nltk's first-tree sequences, computed on all cores (nltk is slow)."""
    chunks = [texts[i : i + 250] for i in range(0, len(texts), 250)]
    with multiprocessing.get_context("fork").Pool() as pool:
        parts = pool.map(_nltk_sequences, [(grammar_name, chunk) for chunk in chunks])
    return [sequence for part in parts for sequence in part]


@pytest.mark.slow
def test_equals_nltk_on_10000_zinc_molecules(zinc, smiles_grammar):
    sample = zinc[::24][:10_000]  # spread over the whole file
    assert len(sample) == 10_000
    parser = Parser(smiles_grammar)
    ours = [parser.parse(s) for s in sample]
    assert ours == _nltk_reference("smiles", sample)


def test_equals_nltk_on_10000_expressions(expressions, expr_grammar):
    sample = expressions[::10]
    assert len(sample) == 10_000
    parser = Parser(expr_grammar)
    assert [parser.parse(s) for s in sample] == _nltk_reference("expr", sample)


def test_known_sequences(smiles_grammar, expr_grammar):
    assert Parser(expr_grammar).parse("sin( x ) + 1") == [0, 3, 5, 3, 7, 8]
    # C=1 ring bond versus C=C chain bond: the case that makes the grammar not LR(1)
    ring = Parser(smiles_grammar).parse("C1CC=1")
    chain = Parser(smiles_grammar).parse("CC=C")
    assert 61 in ring and 61 not in chain  # ringbond -> bond DIGIT only for the ring bond
    assert 74 in chain  # chain -> chain bond branched_atom


def test_ambiguous_grammar_returns_nltks_first_tree(tmp_path):
    (tmp_path / "amb.cfg").write_text(
        '# @name: amb\n# @start: E\n# @padding: Nothing\n# @max_length: 50\n# @separator: " "\n'
        "E -> E '+' E | 'a'\nNothing -> None\n"
    )
    grammar = Grammar.load(tmp_path / "amb.cfg")
    tokens = "a + a + a + a".split()
    expected = production_sequence(grammar, next(nltk.ChartParser(grammar.cfg).parse(tokens)))
    assert Parser(grammar).parse_tokens(tokens) == expected
    assert Parser(grammar).parse("a") == [1]


def test_grammar_with_empty_rules(tmp_path):
    (tmp_path / "eps.cfg").write_text(
        '# @name: eps\n# @start: S\n# @padding: Nothing\n# @max_length: 50\n# @separator: " "\n'
        "S -> A 'b' A\nA -> 'a' A | \nNothing -> None\n"
    )
    grammar = Grammar.load(tmp_path / "eps.cfg")
    chart = nltk.ChartParser(grammar.cfg)
    for text in ["b", "a b", "a a b a", "b a a a"]:
        tokens = text.split()
        assert Parser(grammar).parse(text) == production_sequence(grammar, next(chart.parse(tokens)))


@pytest.mark.parametrize(
    "text, message",
    [
        ("C(C", "is incomplete"),
        ("CC)", r"token 3 \('\)'\) cannot follow"),
        ("C[Cl", "is incomplete"),
        ("=C", r"token 1 \('='\) cannot follow"),
    ],
)
def test_out_of_grammar_smiles(smiles_grammar, text, message):
    with pytest.raises(ParseError, match=message):
        Parser(smiles_grammar).parse(text)


def test_out_of_grammar_expressions(expr_grammar):
    parser = Parser(expr_grammar)
    with pytest.raises(ParseError):
        parser.parse("x + + 1")
    with pytest.raises(TokenizeError):
        parser.parse("x ^ 2")
