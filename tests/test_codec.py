"""Sequences <-> strings <-> padded arrays; exact round trips over the whole data sets."""

from __future__ import annotations

import numpy as np
import pytest

from grammar_rae.errors import ParseError, SequenceTooLong
from grammar_rae.grammar.batch import parse_many
from grammar_rae.grammar.codec import Codec


@pytest.mark.slow
def test_round_trip_all_zinc250k(zinc, smiles_grammar):
    assert len(zinc) == 249_456
    outcomes = parse_many(smiles_grammar, zinc, max_length=277)
    failures = [(s, o.error) for s, o in zip(zinc, outcomes) if not o.ok]
    assert failures == []
    codec = Codec(smiles_grammar)
    mismatches = [s for s, o in zip(zinc, outcomes) if codec.decode(o.sequence) != s]
    assert mismatches == []
    assert max(len(o.sequence) for o in outcomes) == 277  # the reference maximum


def test_round_trip_all_expressions(expressions, expr_grammar):
    assert len(expressions) == 100_000
    codec = Codec(expr_grammar)
    sequences = [codec.encode(e) for e in expressions]
    assert all(codec.decode(s) == e for s, e in zip(sequences, expressions))
    assert max(map(len, sequences)) <= 15


def test_padded_arrays_are_compact_and_invertible(zinc, smiles_grammar):
    codec = Codec(smiles_grammar)
    batch = codec.encode_batch(zinc[:200])
    assert batch.indices.dtype == np.int8 and batch.indices.shape == (200, 277)
    assert batch.errors == {} and batch.ok.all()
    for row, length in zip(batch.indices, batch.lengths):
        assert (row[length:] == smiles_grammar.padding_rule).all()
        assert (row[:length] != smiles_grammar.padding_rule).all()
    assert codec.decode_array(batch.indices) == zinc[:200]


def test_batch_reports_failures_per_item(expr_grammar):
    codec = Codec(expr_grammar)
    batch = codec.encode_batch(["x + 1", "x +", "y", "sin( x ) * exp( x ) + 1 + 2 + 3 + x"])
    assert sorted(batch.errors) == [1, 2, 3]
    assert "maximum length 15" in batch.errors[3]
    assert batch.ok.tolist() == [True, False, False, False]
    assert codec.decode_array(batch.indices) == ["x + 1", None, None, None]


def test_decode_rejects_bad_sequences(expr_grammar):
    codec = Codec(expr_grammar)
    assert codec.decode([0, 3, 7, 8, 11, 11]) == "x + 1"
    assert codec.decode([0, 3, 7, 8, 11, 5]) == "x + 1"  # everything after padding is ignored
    with pytest.raises(ParseError, match="nonterminals left"):
        codec.decode([0, 3, 7])
    with pytest.raises(ParseError, match="cannot rewrite"):
        codec.decode([7, 0])
    with pytest.raises(ParseError, match="follows a complete derivation"):
        codec.decode([3, 7, 7])


def test_max_length_is_enforced(smiles_grammar, zinc):
    codec = Codec(smiles_grammar, max_length=50)
    with pytest.raises(SequenceTooLong, match="more than the maximum length 50"):
        codec.encode(zinc[0])
