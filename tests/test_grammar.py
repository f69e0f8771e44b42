"""Grammar files, derived tables and tokenizers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from grammar_rae import Grammar, Tokenizer
from grammar_rae.errors import EmptyInput, GrammarError, TokenizeError
from grammar_rae.grammar import builtin_grammars
from grammar_rae.grammar.symbols import Nonterminal


def test_shipped_grammars_are_found():
    assert builtin_grammars() == ["expr", "smiles"]


def test_smiles_grammar_matches_the_reference_order(smiles_grammar):
    g = smiles_grammar
    assert g.n_rules == 76
    assert len(g.lhs_list) == 23
    assert str(g.productions[0]) == "smiles -> chain"
    assert str(g.productions[18]) == "bracket_atom -> '[' BAI ']'"
    assert g.productions[12].rhs() == ("Cl",) and g.productions[13].rhs() == ("Br",)
    assert g.productions[46].rhs() == ("@@",)
    assert g.productions[59].rhs() == ("\\",)
    assert str(g.productions[74]) == "chain -> chain bond branched_atom"
    assert g.padding_rule == 75 and g.max_length == 277 and g.separator == ""
    assert g.start == Nonterminal("smiles")


def test_class_rules_are_unproductive_and_masked(smiles_grammar):
    g = smiles_grammar
    assert not g.productive[29] and not g.productive[31]
    assert g.productive.sum() == 74
    bach = g.lhs_index[Nonterminal("BACH")]
    assert np.flatnonzero(g.lhs_mask[bach]).tolist() == [30]
    assert g.rule_rhs_nonterminals[29] == ()


def test_derived_tables(smiles_grammar):
    g = smiles_grammar
    assert g.rule_lhs.shape == (76,)
    assert g.lhs_mask.shape == (23, 76)
    assert (g.lhs_mask.sum(axis=0) == g.productive).all()  # each usable rule under exactly one LHS
    chain = g.lhs_index[Nonterminal("chain")]
    assert np.flatnonzero(g.lhs_mask[chain]).tolist() == [72, 73, 74]
    names = lambda rule: [str(g.lhs_list[i]) for i in g.rule_rhs_nonterminals[rule]]  # noqa: E731
    assert names(74) == ["chain", "bond", "branched_atom"]
    assert names(5) == []
    assert g.rule_rhs_nonterminals[75] == ()
    assert (g.rule_masks[73] == g.lhs_mask[chain]).all()
    assert g.index_dtype == np.int8


def test_expression_grammar(expr_grammar):
    g = expr_grammar
    assert g.n_rules == 12 and len(g.lhs_list) == 3
    assert g.max_length == 15 and g.separator == " " and g.padding_rule == 11
    assert set(g.terminals) == {"+", "*", "/", "(", ")", "sin(", "exp(", "x", "1", "2", "3"}


def test_hash_depends_on_productions_not_comments(tmp_path):
    text = Grammar.load("expr").source_text
    (tmp_path / "a.cfg").write_text("# a comment\n" + text)
    (tmp_path / "b.cfg").write_text(text.replace("'3'", "'4'"))
    assert Grammar.load(tmp_path / "a.cfg").hash == Grammar.load("expr").hash
    assert Grammar.load(tmp_path / "b.cfg").hash != Grammar.load("expr").hash


def test_bad_grammars_give_clear_errors(tmp_path):
    with pytest.raises(GrammarError, match="Unknown grammar 'nope'"):
        Grammar.load("nope")
    (tmp_path / "nometa.cfg").write_text("S -> 'a'\n")
    with pytest.raises(GrammarError, match="lacks the header"):
        Grammar.load(tmp_path / "nometa.cfg")


@pytest.mark.parametrize(
    "smiles, tokens",
    [
        ("ClCBr", ["Cl", "C", "Br"]),
        (
            "C[C@@H](Cl)c1ccccc1",
            ["C", "[", "C", "@@", "H", "]", "(", "Cl", ")", "c", "1", "c", "c", "c", "c", "c", "1"],
        ),
        ("[NH3+]", ["[", "N", "H", "3", "+", "]"]),
        ("C/C=C\\C", ["C", "/", "C", "=", "C", "\\", "C"]),
    ],
)
def test_smiles_tokenizer(smiles_grammar, smiles, tokens):
    tokenizer = Tokenizer(smiles_grammar)
    assert tokenizer.tokenize(smiles) == tokens
    assert tokenizer.join(tokens) == smiles


def test_expression_tokenizer_accepts_any_spacing(expr_grammar):
    tokenizer = Tokenizer(expr_grammar)
    assert tokenizer.tokenize("sin(x)*exp( 2 )") == ["sin(", "x", ")", "*", "exp(", "2", ")"]
    assert tokenizer.tokenize("x + 1") == ["x", "+", "1"]


def test_tokenizer_names_the_unknown_token(smiles_grammar, expr_grammar):
    with pytest.raises(TokenizeError, match=r"Unknown token 'a' at position 3"):
        Tokenizer(smiles_grammar).tokenize("C[Na]")
    with pytest.raises(TokenizeError, match=r"Unknown token 'y' at position 4"):
        Tokenizer(expr_grammar).tokenize("x + y")
    with pytest.raises(TokenizeError, match="position 1"):
        Tokenizer(smiles_grammar).tokenize("C C")
    with pytest.raises(EmptyInput):
        Tokenizer(smiles_grammar).tokenize("")


@pytest.mark.parametrize("name", ["smiles", "expr"])
def test_productions_are_nltks_and_the_cache_keeps_them(name, isolated_cache):
    import nltk

    text = Grammar.load(name).source_text
    theirs = nltk.CFG.fromstring(text).productions()
    first = Grammar.load(name)  # read by nltk, then cached
    assert [str(p) for p in first.productions] == [str(p) for p in theirs]
    assert [p.lhs().symbol() for p in first.productions] == [p.lhs().symbol() for p in theirs]
    assert [[isinstance(s, str) for s in p.rhs()] for p in first.productions] == [
        [isinstance(s, str) for s in p.rhs()] for p in theirs
    ]
    cached = list((isolated_cache / "grammars").glob("*.json"))
    assert len(cached) == 1
    again = Grammar.load(name)  # from the cache
    assert again.productions == first.productions and again.hash == first.hash
    cached[0].write_text("{not json")  # a damaged cache entry is read again with nltk
    assert Grammar.load(name).productions == first.productions


def test_grammar_hash_is_that_of_the_committed_runs():
    # the hash the shipped and committed smiles runs were trained under (their config.json)
    assert Grammar.load("smiles").hash == "6307a87a52004d6842d8cfa8209450471fe61e5a07d0c1186d06de91c51381da"


def test_a_cached_grammar_loads_without_nltk(isolated_cache):
    Grammar.load("smiles")  # fill the cache
    code = (
        "import sys; from grammar_rae.cli.main import main; main(['parse', 'CCO']); "
        "print(sorted(m for m in ('nltk', 'torch', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["CCO\t0 73 73 72 62 2 5 62 2 5 62 2 7", "[]"]


@pytest.mark.parametrize(
    "header, message",
    [
        ("# @max_length: -4", "@max_length must be a whole number of at least 1, not -4"),
        ("# @max_length: 0", "not 0"),
        ("# @separator: 3", "@separator must be a JSON string"),
    ],
)
def test_bad_header_values_are_refused(header, message):
    text = Grammar.load("expr").source_text
    key = header.split(":")[0]
    lines = [header if line.startswith(key) else line for line in text.splitlines()]
    with pytest.raises(GrammarError, match=message):
        Grammar.from_text("\n".join(lines))
