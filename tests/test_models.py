"""Networks, the masked loss and the four models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grammar_rae.errors import GrammarRAEError
from grammar_rae.grammar.codec import Codec
from grammar_rae.models import ModelConfig, build_model
from grammar_rae.models.losses import reconstruction_terms


def _config(grammar, model="grae", preset="paper", **overrides) -> ModelConfig:
    return ModelConfig.from_preset(model, grammar.name, grammar.n_rules, grammar.max_length, preset, **overrides)


def _batch(grammar, strings):
    indices = Codec(grammar).encode_batch(strings)
    targets = torch.from_numpy(indices.indices.astype(np.int64))
    return F.one_hot(targets, grammar.n_rules).float(), targets, int(indices.lengths.max())


def test_paper_architecture_for_molecules(smiles_grammar):
    model = build_model(_config(smiles_grammar, "gvae"), smiles_grammar.rule_masks)
    convs = [m for m in model.encoder.convolutions if isinstance(m, torch.nn.Conv1d)]
    assert [(c.out_channels, c.kernel_size[0]) for c in convs] == [(9, 9), (9, 9), (10, 11)]
    assert model.encoder.dense[1].in_features == 10 * (277 - 8 - 8 - 10)
    assert model.encoder.dense[1].out_features == 435 and model.encoder.mean.out_features == 56
    gru = model.decoder.gru
    assert (gru.hidden_size, gru.num_layers, model.decoder.output.out_features) == (501, 3, 76)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules())


def test_wider_convolutions_encode_real_molecules(smiles_grammar, zinc):
    model = build_model(_config(smiles_grammar, "grae", "cpu-ar", conv_filters=[64, 64, 64]), smiles_grammar.rule_masks)
    convs = [m for m in model.encoder.convolutions if isinstance(m, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [64, 64, 64]
    assert model.encoder.dense[1].in_features == 64 * (277 - 8 - 8 - 10)
    x, targets, longest = _batch(smiles_grammar, zinc[:8])
    with torch.no_grad():
        z = model.encode(x)
    assert z.shape == (8, 56) and torch.isfinite(z).all()
    assert torch.isfinite(model(x, targets, longest).total)
    with pytest.raises(GrammarRAEError, match="has 3 convolutions, so it needs 3 filter counts, not 2"):
        _config(smiles_grammar, "grae", "cpu-ar", conv_filters=[64, 64])


def test_paper_architecture_for_expressions(expr_grammar):
    model = build_model(_config(expr_grammar, "grae"), expr_grammar.rule_masks)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in model.encoder.modules()) == 3
    assert isinstance(model.decoder.input[0], torch.nn.BatchNorm1d)
    assert model.decoder.input[1].out_features == 25 and model.decoder.gru.hidden_size == 100
    assert model.encoder.mean.out_features == 25 and model.encoder.log_var is None


def test_truncated_loss_equals_full_length_loss(smiles_grammar, zinc):
    torch.manual_seed(0)
    model = build_model(_config(smiles_grammar, "gvae", preset="cpu", gru_hidden=64), smiles_grammar.rule_masks).eval()
    x, targets, longest = _batch(smiles_grammar, zinc[:16])
    assert longest < 277
    with torch.no_grad():
        z = model.encode(x)
        full_logits = model.decoder(z, 277)
        short_logits = model.decoder(z, longest)
    assert torch.allclose(full_logits[:, :longest], short_logits, atol=1e-6)  # the decoder is causal
    full, full_exact = reconstruction_terms(full_logits, targets, model.rule_masks)
    short, short_exact = reconstruction_terms(short_logits, targets[:, :longest], model.rule_masks)
    assert torch.allclose(full, short, atol=1e-6)
    assert torch.equal(full_exact, short_exact)
    assert torch.allclose(model(x, targets, 277).total, model(x, targets, longest).total, atol=1e-6)


def test_forced_steps_have_zero_loss_and_gradient(smiles_grammar, zinc):
    _, targets, _ = _batch(smiles_grammar, zinc[:4])
    masks = torch.as_tensor(smiles_grammar.rule_masks)
    logits = torch.randn(4, 277, 76, requires_grad=True)
    loss, _ = reconstruction_terms(logits, targets, masks)
    loss.sum().backward()
    forced = masks[targets].sum(-1) == 1  # padding steps, and rules like smiles -> chain
    assert forced.any()
    assert logits.grad[forced].abs().max() == 0


@pytest.mark.parametrize("scale", [1e30, -1e30, 1e4])
def test_masked_loss_is_finite_with_extreme_logits(smiles_grammar, zinc, scale):
    _, targets, _ = _batch(smiles_grammar, zinc[:4])
    logits = (torch.randn(4, 277, 76) * scale).requires_grad_()
    loss, _ = reconstruction_terms(logits, targets, torch.as_tensor(smiles_grammar.rule_masks))
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize(
    "model_name, reg", [("grae", "l2"), ("grae", "gp"), ("grae", "sn"), ("gvae", "none"), ("gcvae", "none")]
)
def test_grammar_models_train_step(smiles_grammar, zinc, model_name, reg):
    torch.manual_seed(0)
    model = build_model(_config(smiles_grammar, model_name, "cpu", gru_hidden=32, reg=reg), smiles_grammar.rule_masks)
    x, targets, steps = _batch(smiles_grammar, zinc[:8])
    terms = model(x, targets, steps)
    terms.total.backward()
    assert torch.isfinite(terms.total)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    if reg in ("l2", "gp"):
        assert terms.regulariser > 0
    if reg == "sn":
        assert torch.nn.utils.parametrize.is_parametrized(model.decoder.gru, "weight_hh_l0")
        assert torch.nn.utils.parametrize.is_parametrized(model.decoder.output, "weight")


def test_vae_noise_only_in_training(smiles_grammar, zinc):
    model = build_model(_config(smiles_grammar, "gvae", "cpu", gru_hidden=32), smiles_grammar.rule_masks)
    x, _, _ = _batch(smiles_grammar, zinc[:4])
    model.eval()
    assert torch.equal(model.latent(x, None)[0], model.encode(x))
    model.train()
    assert not torch.equal(model.latent(x, None)[0], model.encode(x))
    rae = build_model(_config(smiles_grammar, "grae", "cpu", gru_hidden=32), smiles_grammar.rule_masks).train()
    assert torch.equal(rae.latent(x, None)[0], rae.encode(x))
    # Reconstruction encodes 10 times exactly when training draws the code: VAEs and GCVAE, not GRAE.
    stochastic = {
        name: build_model(_config(smiles_grammar, name, "cpu", gru_hidden=8), smiles_grammar.rule_masks).stochastic
        for name in ("grae", "gcvae", "gvae", "cvae")
    }
    assert stochastic == {"grae": False, "gcvae": True, "gvae": True, "cvae": True}
    gcvae = build_model(_config(smiles_grammar, "gcvae", "cpu", gru_hidden=8), smiles_grammar.rule_masks).eval()
    assert not torch.equal(gcvae.draw(x), gcvae.encode(x))


def test_config_round_trip_and_errors(smiles_grammar):
    config = _config(smiles_grammar, "gcvae", latent_dim=8)
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert config.noise_std == 0.01 and config.latent_dim == 8
    with pytest.raises(GrammarRAEError, match="Unknown model 'vae'"):
        _config(smiles_grammar, "vae")
    with pytest.raises(GrammarRAEError, match="Unknown regulariser"):
        _config(smiles_grammar, "grae", reg="dropout")
    with pytest.raises(GrammarRAEError, match="Unknown preset"):
        _config(smiles_grammar, "grae", preset="gpu")


def test_gru_encoder_reads_each_sequence_to_its_end_only(smiles_grammar, zinc, expr_grammar):
    """The GRU encoder's code does not depend on the batch it is in (how far it is padded) nor on
    the padding rule, which is the last rule of each shipped grammar; its backward reading is the
    forward GRU's input reversed within each sequence's length."""
    assert (
        smiles_grammar.padding_rule == smiles_grammar.n_rules - 1
        and expr_grammar.padding_rule == expr_grammar.n_rules - 1
    )
    torch.manual_seed(0)
    model = build_model(
        _config(smiles_grammar, "grae", "cpu-ar", encoder="gru", encoder_gru_hidden=16), smiles_grammar.rule_masks
    )
    short, long = "CCO", zinc[2]
    x, _, _ = _batch(smiles_grammar, [short, long])
    alone, _, _ = _batch(smiles_grammar, [short])
    together = model.encode(x)
    assert torch.allclose(together[0], model.encode(alone)[0], atol=1e-6)
    assert not torch.allclose(together[0], together[1])
    reversed_short = x[:1].clone()
    n = int((x[0, :, -1] == 0).sum())
    reversed_short[0, :n] = x[0, :n].flip(0)
    swapped = build_model(model.config, smiles_grammar.rule_masks)
    swapped.load_state_dict(model.state_dict())
    swapped.encoder.forward_gru, swapped.encoder.backward_gru = model.encoder.backward_gru, model.encoder.forward_gru
    halves = lambda m, inputs: m.encoder.features(inputs).chunk(2, dim=1)  # noqa: E731
    forward, backward = halves(model, x[:1])
    swapped_forward, swapped_backward = halves(swapped, reversed_short)
    assert torch.allclose(forward, swapped_backward, atol=1e-6) and torch.allclose(backward, swapped_forward, atol=1e-6)


def test_word_dropout_replaces_previous_rules_in_training_only(smiles_grammar, zinc):
    torch.manual_seed(0)
    config = _config(smiles_grammar, "grae", "cpu-ar", word_dropout=0.5, gru_hidden=16)
    model = build_model(config, smiles_grammar.rule_masks)
    x, targets, steps = _batch(smiles_grammar, zinc[:4])
    z = model.encode(x)
    model.eval()
    evaluated = model.decoder.teacher_forced(z, targets[:, :steps])
    assert torch.equal(evaluated, model.decoder.teacher_forced(z, targets[:, :steps]))
    model.train()
    draws = [model.decoder.teacher_forced(z, targets[:, :steps], torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
    assert not torch.allclose(draws[0], evaluated)
    # every previous rule dropped: the decoder reads the start symbol at each step
    everything = build_model(
        _config(smiles_grammar, "grae", "cpu-ar", word_dropout=0.999999, gru_hidden=16), smiles_grammar.rule_masks
    )
    everything.load_state_dict(model.state_dict())
    blank = torch.full_like(targets[:, :steps], everything.decoder.start_token)
    everything.train()
    dropped = everything.decoder.teacher_forced(z, targets[:, :steps], torch.Generator().manual_seed(0))
    everything.eval()
    latent = everything.decoder.input(z).unsqueeze(1).expand(-1, steps, -1)
    hidden, _ = everything.decoder.gru(
        torch.cat([everything.decoder.embedding(blank), latent], dim=2), everything.decoder.initial_state(z)
    )
    assert torch.allclose(dropped, everything.decoder.output(hidden), atol=1e-6)


def test_encoder_and_word_dropout_settings_are_checked(smiles_grammar):
    old = _config(smiles_grammar, "grae", "cpu-ar").to_dict()
    for key in ("encoder", "encoder_gru_hidden", "word_dropout"):
        del old[key]  # a config written before these settings existed
    assert ModelConfig.from_dict(old).encoder == "conv" and ModelConfig.from_dict(old).word_dropout == 0.0
    with pytest.raises(GrammarRAEError, match="Unknown encoder 'lstm': use one of conv, gru"):
        _config(smiles_grammar, "grae", "cpu-ar", encoder="lstm")
    with pytest.raises(GrammarRAEError, match="The GRU encoder reads production rules: it needs a grammar model"):
        ModelConfig.from_preset("cvae", "smiles", 35, 120, "cpu-ar", encoder="gru")
    with pytest.raises(GrammarRAEError, match="The word dropout must be at least 0 and below 1, not 1.0"):
        _config(smiles_grammar, "grae", "cpu-ar", word_dropout=1.0)
    with pytest.raises(GrammarRAEError, match="Word dropout needs the autoregressive decoder"):
        _config(smiles_grammar, "grae", "cpu", word_dropout=0.2)
