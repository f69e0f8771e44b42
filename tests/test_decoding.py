"""Batched grammar-masked decoding: equal to the per-sample loop, NaN-safe, grammar-valid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grammar_rae.generation.decoding import (
    DecodingTables,
    gumbel_noise,
    masked_decode,
    reference_masked_decode,
)
from grammar_rae.grammar.codec import Codec


def _rules_respect_the_grammar(grammar, rules: torch.Tensor, valid: torch.Tensor) -> None:
    """Replay each sequence with a stack: every rule must rewrite the nonterminal on top."""
    for row, ok in zip(rules.tolist(), valid.tolist()):
        stack = [grammar.start_lhs]
        for rule in row:
            top = stack.pop() if stack else grammar.padding_lhs
            assert grammar.lhs_mask[top, rule], f"rule {rule} chosen under {grammar.lhs_list[top]}"
            stack.extend(reversed(grammar.rule_rhs_nonterminals[rule]))
        assert ok == (not stack)


@pytest.mark.parametrize("grammar_name, steps", [("smiles", 277), ("expr", 15)])
@pytest.mark.parametrize("mode", ["sample", "argmax"])
def test_batched_equals_reference_loop(grammar_name, steps, mode, request):
    grammar = request.getfixturevalue(f"{grammar_name}_grammar")
    tables = DecodingTables(grammar)
    generator = torch.Generator().manual_seed(7)
    logits = torch.randn((64, steps, grammar.n_rules), generator=generator) * 3
    noise = gumbel_noise(tables.noise_shape(logits), generator)
    batched = masked_decode(logits, tables, mode=mode, noise=noise)
    reference = reference_masked_decode(logits, grammar, mode=mode, noise=noise)
    assert torch.equal(batched.rules, reference.rules)
    assert torch.equal(batched.valid, reference.valid)
    assert 0 < batched.valid.sum() < 64  # random logits give a mix of valid and invalid
    _rules_respect_the_grammar(grammar, batched.rules, batched.valid)


def test_generator_makes_sampling_reproducible(expr_grammar):
    tables = DecodingTables(expr_grammar)
    logits = torch.zeros((32, 15, expr_grammar.n_rules))
    first = masked_decode(logits, tables, generator=torch.Generator().manual_seed(3))
    again = masked_decode(logits, tables, generator=torch.Generator().manual_seed(3))
    other = masked_decode(logits, tables, generator=torch.Generator().manual_seed(4))
    assert torch.equal(first.rules, again.rules)
    assert not torch.equal(first.rules, other.rules)


@pytest.mark.parametrize("mode", ["sample", "argmax"])
def test_extreme_and_nan_logits_never_select_a_masked_rule(smiles_grammar, mode):
    grammar = smiles_grammar
    tables = DecodingTables(grammar)
    generator = torch.Generator().manual_seed(0)
    shape = (48, 277, grammar.n_rules)
    logits = torch.randn(shape, generator=generator) * 1e38  # overflows exp() in float32
    pick = torch.rand(shape, generator=generator)
    logits[pick < 0.2] = torch.inf
    logits[(pick >= 0.2) & (pick < 0.4)] = -torch.inf
    logits[(pick >= 0.4) & (pick < 0.5)] = torch.nan
    logits[:8] = -1e38  # all tiny
    logits[8:16] = torch.nan  # all NaN
    logits[16:24, :, 29] = torch.inf  # a rule that can never be allowed, pushed hard
    result = masked_decode(logits, tables, mode=mode, generator=generator)
    _rules_respect_the_grammar(grammar, result.rules, result.valid)
    assert not (result.rules == 29).any() and not (result.rules == 31).any()
    noise = gumbel_noise(tables.noise_shape(logits), generator)
    assert torch.equal(
        masked_decode(logits, tables, mode=mode, noise=noise).rules,
        reference_masked_decode(logits, grammar, mode=mode, noise=noise).rules,
    )


def test_argmax_of_true_sequences_reproduces_molecules(zinc, smiles_grammar):
    codec = Codec(smiles_grammar)
    molecules = zinc[:100]
    indices = torch.as_tensor(codec.encode_batch(molecules).indices.astype(np.int64))
    logits = torch.nn.functional.one_hot(indices, smiles_grammar.n_rules).float() * 10 - 5
    result = masked_decode(logits, DecodingTables(smiles_grammar), mode="argmax")
    assert result.valid.all()
    assert torch.equal(result.rules, indices)  # padding after the end, like the data
    assert codec.decode_array(result.rules.numpy()) == molecules


def test_too_few_steps_is_invalid(zinc, smiles_grammar):
    codec = Codec(smiles_grammar)
    indices = torch.as_tensor(codec.encode_batch(zinc[:10]).indices.astype(np.int64))
    logits = torch.nn.functional.one_hot(indices, smiles_grammar.n_rules).float()[:, :40]
    result = masked_decode(logits, DecodingTables(smiles_grammar), mode="argmax")
    assert not result.valid.any()
    assert codec.decode_array(result.rules.numpy()) == [None] * 10


def test_unknown_mode_is_rejected(expr_grammar):
    with pytest.raises(ValueError, match="Unknown decoding mode"):
        masked_decode(torch.zeros(1, 15, 12), DecodingTables(expr_grammar), mode="beam")
