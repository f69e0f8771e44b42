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
from grammar_rae.models.networks import PrecomputedSteps


def decode_logits(logits, tables, **options):
    """Masked decoding of fixed (B, T, R) logits."""
    return masked_decode(PrecomputedSteps(logits), logits.shape[0], tables, logits.shape[1], **options)


def reference_logits(logits, grammar, **options):
    """The per-sample reference loop on fixed logits."""
    return reference_masked_decode(
        lambda b: PrecomputedSteps(logits[b : b + 1]), logits.shape[0], grammar, logits.shape[1], **options
    )


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
    noise = gumbel_noise(tables.noise_shape(*logits.shape[:2]), generator)
    batched = decode_logits(logits, tables, mode=mode, noise=noise)
    reference = reference_logits(logits, grammar, mode=mode, noise=noise)
    assert torch.equal(batched.rules, reference.rules)
    assert torch.equal(batched.valid, reference.valid)
    assert 0 < batched.valid.sum() < 64  # random logits give a mix of valid and invalid
    _rules_respect_the_grammar(grammar, batched.rules, batched.valid)


def test_generator_makes_sampling_reproducible(expr_grammar):
    tables = DecodingTables(expr_grammar)
    logits = torch.zeros((32, 15, expr_grammar.n_rules))
    first = decode_logits(logits, tables, generator=torch.Generator().manual_seed(3))
    again = decode_logits(logits, tables, generator=torch.Generator().manual_seed(3))
    other = decode_logits(logits, tables, generator=torch.Generator().manual_seed(4))
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
    result = decode_logits(logits, tables, mode=mode, generator=generator)
    _rules_respect_the_grammar(grammar, result.rules, result.valid)
    assert not (result.rules == 29).any() and not (result.rules == 31).any()
    noise = gumbel_noise(tables.noise_shape(*logits.shape[:2]), generator)
    assert torch.equal(
        decode_logits(logits, tables, mode=mode, noise=noise).rules,
        reference_logits(logits, grammar, mode=mode, noise=noise).rules,
    )


def test_argmax_of_true_sequences_reproduces_molecules(zinc, smiles_grammar):
    codec = Codec(smiles_grammar)
    molecules = zinc[:100]
    indices = torch.as_tensor(codec.encode_batch(molecules).indices.astype(np.int64))
    logits = torch.nn.functional.one_hot(indices, smiles_grammar.n_rules).float() * 10 - 5
    result = decode_logits(logits, DecodingTables(smiles_grammar), mode="argmax")
    assert result.valid.all()
    assert torch.equal(result.rules, indices)  # padding after the end, like the data
    assert codec.decode_array(result.rules.numpy()) == molecules


def test_too_few_steps_is_invalid(zinc, smiles_grammar):
    codec = Codec(smiles_grammar)
    indices = torch.as_tensor(codec.encode_batch(zinc[:10]).indices.astype(np.int64))
    logits = torch.nn.functional.one_hot(indices, smiles_grammar.n_rules).float()[:, :40]
    result = decode_logits(logits, DecodingTables(smiles_grammar), mode="argmax")
    assert not result.valid.any()
    assert codec.decode_array(result.rules.numpy()) == [None] * 10


def test_unknown_mode_is_rejected(expr_grammar):
    with pytest.raises(ValueError, match="Unknown decoding mode"):
        decode_logits(torch.zeros(1, 15, 12), DecodingTables(expr_grammar), mode="beam")


# ----- the autoregressive decoder: step-by-step decoding, beam search ------------------------------
def _autoregressive(grammar, seed=0, scale=3.0):
    """A random autoregressive GrammarRAE decoder (float64, so batched and one-row GRU steps agree)."""
    from grammar_rae.models import ModelConfig, build_model

    torch.manual_seed(seed)
    config = ModelConfig.from_preset(
        "grae",
        grammar.name,
        grammar.n_rules,
        grammar.max_length,
        "cpu",
        decoder="autoregressive",
        gru_hidden=32,
        embedding_dim=8,
        latent_dim=6,
    )
    network = build_model(config, grammar.rule_masks).double().eval()
    with torch.no_grad():
        network.decoder.output.weight.mul_(scale)
    return network


@pytest.mark.parametrize("grammar_name", ["smiles", "expr"])
@pytest.mark.parametrize("mode", ["sample", "argmax"])
@pytest.mark.parametrize("constrained", [False, True], ids=["grammar", "constraints"])
def test_autoregressive_batched_equals_reference_loop(grammar_name, mode, constrained, request):
    from grammar_rae.grammar.constraints import has_constraints, make_constraints

    grammar = request.getfixturevalue(f"{grammar_name}_grammar")
    if constrained and not has_constraints(grammar):
        pytest.skip("the expression grammar has no semantic constraints")
    network, tables = _autoregressive(grammar), DecodingTables(grammar)
    generator = torch.Generator().manual_seed(11)
    z = torch.randn((24, 6), generator=generator, dtype=torch.float64)
    steps = grammar.max_length
    noise = gumbel_noise(tables.noise_shape(len(z), steps), generator)
    with torch.no_grad():
        batched = masked_decode(
            network.stepper(z),
            len(z),
            tables,
            steps,
            mode,
            noise=noise,
            temperature=0.7,
            constraints=make_constraints(grammar, len(z)) if constrained else None,
        )
        reference = reference_masked_decode(
            lambda b: network.stepper(z[b : b + 1]),
            len(z),
            grammar,
            steps,
            mode,
            noise=noise,
            temperature=0.7,
            constraints_for=(lambda b: make_constraints(grammar, 1)) if constrained else None,
        )
    assert torch.equal(batched.rules, reference.rules)
    assert torch.equal(batched.valid, reference.valid) and torch.equal(batched.fallbacks, reference.fallbacks)
    _rules_respect_the_grammar(grammar, batched.rules, batched.valid)
    assert batched.valid.any()


def test_autoregressive_steps_equal_teacher_forcing(zinc, smiles_grammar):
    """Feeding the true rules step by step gives the logits of the teacher-forced pass."""
    network = _autoregressive(smiles_grammar)
    targets = torch.as_tensor(Codec(smiles_grammar).encode_batch(zinc[:6]).indices.astype(np.int64))[:, :60]
    z = torch.randn((6, 6), dtype=torch.float64)
    with torch.no_grad():
        forced = network.decoder.teacher_forced(z, targets)
        stepper, previous, stepped = network.stepper(z), None, []
        for t in range(targets.shape[1]):
            stepped.append(stepper.next(previous))
            previous = targets[:, t]
    assert torch.allclose(torch.stack(stepped, dim=1), forced, atol=1e-10)


def test_beam_of_one_is_greedy_and_a_wider_beam_scores_higher_on_average(smiles_grammar):
    from grammar_rae.generation.decoding import beam_decode

    network, tables = _autoregressive(smiles_grammar, scale=1.5), DecodingTables(smiles_grammar)
    z = torch.randn((16, 6), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    steps = smiles_grammar.max_length
    with torch.no_grad():
        greedy = masked_decode(network.stepper(z), 16, tables, steps, "argmax")
        one = beam_decode(network.stepper(z), 16, 1, tables, steps)
        wide = beam_decode(network.stepper(z, 4), 16, 4, tables, steps)
        rescored = _sequence_log_prob(network, z, wide.rules, tables)
    assert torch.equal(one.rules, greedy.rules)
    # a wider beam can prune the greedy path, so it is better on average, not for every sample
    assert wide.scores.mean() > one.scores.mean() and (wide.scores > one.scores + 1e-6).sum() > 4
    assert torch.allclose(
        rescored[wide.valid], wide.scores[wide.valid].double(), atol=1e-3
    )  # scores are real log-probabilities
    _rules_respect_the_grammar(smiles_grammar, wide.rules, wide.valid)


def _sequence_log_prob(network, z, rules, tables):
    """log p(rules | z) under the grammar-masked softmax, by teacher forcing."""
    logits = network.decoder.teacher_forced(z, rules).float()
    total = torch.zeros(len(z), dtype=torch.float64)
    grammar = tables.grammar
    for b in range(len(z)):
        stack = [grammar.start_lhs]
        for t, rule in enumerate(rules[b].tolist()):
            if not stack:
                break
            top = stack.pop()
            allowed = torch.as_tensor(grammar.lhs_mask[top])
            total[b] += torch.log_softmax(logits[b, t].masked_fill(~allowed, -torch.inf), 0)[rule].double()
            stack.extend(reversed(grammar.rule_rhs_nonterminals[rule]))
    return total


def test_decoding_flushes_denormals_and_restores_the_default(expr_grammar):
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    torch.set_flush_denormal(False)
    tiny = torch.tensor([1e-39])  # below float32's normal range: zero only while denormals are flushed

    class Probe(PrecomputedSteps):
        def next(self, previous):
            seen.append((tiny * 1.0).item())
            return super().next(previous)

    seen: list[float] = []
    masked_decode(Probe(torch.zeros((4, 15, expr_grammar.n_rules))), 4, DecodingTables(expr_grammar), 15, "argmax")
    assert seen and not any(seen)  # the decoder's arithmetic ran with denormals flushed
    assert (tiny * 1.0).item() > 0  # and the process is back to torch's default
