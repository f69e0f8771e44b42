"""Generating a data set from the grammar: uniform over all strings of at most N productions."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from grammar_rae.cli.main import main
from grammar_rae.errors import GrammarError
from grammar_rae.grammar.codec import Codec
from grammar_rae.grammar.generate import DerivationSampler, generate_strings


def test_generated_expressions_parse_within_the_budget_and_are_distinct(expr_grammar, expressions):
    strings = generate_strings(expr_grammar, 5000, 15, seed=3)
    codec = Codec(expr_grammar, 15)
    lengths = np.array([len(codec.encode(s)) for s in strings])  # raises if any is out of grammar or too long
    assert len(set(strings)) == len(strings) == 5000
    assert lengths.max() <= 15
    # like the reference set, most mass on the longest expressions (its mean is 13.3 productions)
    reference = np.array([len(codec.encode(s)) for s in expressions[:5000]])
    assert 13 <= lengths.mean() <= 14.5 and abs(lengths.mean() - reference.mean()) < 1.0
    assert generate_strings(expr_grammar, 5000, 15, seed=3) == strings
    assert generate_strings(expr_grammar, 100, 15, seed=4) != strings[:100]


def test_every_string_is_equally_likely(expr_grammar):
    sampler = DerivationSampler(expr_grammar, 6)
    # S→T, T→x|1|2|3 (4 of size 2); 60 of size 4; 1,044 of size 6
    assert sampler.exact[expr_grammar.start_lhs][:7] == [0, 0, 4, 0, 60, 0, 1044]
    codec = Codec(expr_grammar, 15)
    rng = random.Random(0)
    counts = Counter(codec.decode(sampler.draw(rng)) for _ in range(60_000))
    assert len(counts) == sampler.total == 1108  # every string is reached
    frequencies = np.array(list(counts.values()))
    assert 20 < frequencies.min() and frequencies.max() < 100  # mean 54 per string


def test_asking_for_more_strings_than_exist_is_refused(expr_grammar):
    with pytest.raises(GrammarError, match="only 4 strings"):
        generate_strings(expr_grammar, 10, 3)


def test_cli_writes_the_file_and_never_overwrites_it(tmp_path, capsys, expr_grammar):
    out = tmp_path / "expr.txt"
    assert main(["data", "generate-expressions", "--n", "300", "--seed", "1", "--out", str(out)]) == 0
    lines = out.read_text().split("\n")[:-1]
    assert lines == generate_strings(expr_grammar, 300, 15, seed=1)
    assert "Wrote 300 distinct expr strings" in capsys.readouterr().out
    assert main(["data", "generate-expressions", "--n", "300", "--out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (
        main(["data", "generate-expressions", "--n", "50", "--max-productions", "2", "--out", str(tmp_path / "b.txt")])
        == 1
    )
    assert "only 4 strings" in capsys.readouterr().err
