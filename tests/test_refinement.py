"""Refined codes: moved with the decoder fixed until greedy decoding gives their string back."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from grammar_rae.cli.main import main
from grammar_rae.data.validity import canonical_many
from grammar_rae.generation.interpolation import interpolate
from grammar_rae.generation.refinement import refine_codes
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.grammar.codec import Codec
from grammar_rae.models.losses import argmax_margin_terms


@pytest.fixture(scope="module")
def zinc_model() -> TrainedModel:
    return TrainedModel.load("pretrained:zinc-grae", "cpu")


def test_the_lead_says_whether_the_masked_argmax_is_right_and_the_hinge_stops_at_the_margin(smiles_grammar):
    masks = torch.as_tensor(smiles_grammar.rule_masks)
    generator = torch.Generator().manual_seed(0)
    targets = torch.as_tensor(
        Codec(smiles_grammar).encode_batch(["CCO", "C1=CC=CC=C1", "CC(N)=O"]).indices[:, :30], dtype=torch.long
    )
    logits = torch.randn((*targets.shape, smiles_grammar.n_rules), generator=generator, requires_grad=True)
    hinge, lead = argmax_margin_terms(logits, targets, masks, margin=1.0)
    allowed = logits.detach().masked_fill(~masks[targets], -torch.inf)
    assert torch.equal(lead > 0, (allowed.argmax(-1) == targets).all(1))
    hinge.sum().backward()
    assert torch.isfinite(logits.grad).all()  # forced steps (one allowed rule) give no NaN
    assert (logits.grad.masked_fill(masks[targets], 0) == 0).all()  # rules not allowed get no gradient

    rival = allowed.scatter(-1, targets.unsqueeze(-1), -torch.inf).amax(-1)  # -inf at forced steps
    true = logits.detach().gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    pushed = logits.detach().scatter(
        -1, targets.unsqueeze(-1), torch.where(rival.isfinite(), rival + 2, true).unsqueeze(-1)
    )
    hinge, lead = argmax_margin_terms(pushed, targets, masks, margin=1.0)
    assert torch.all(hinge == 0) and torch.all(lead >= 2 - 1e-5)


def test_refined_codes_decode_back_where_they_say_so_and_more_often_than_the_encoders(zinc_model, zinc):
    molecules = canonical_many("smiles", zinc[1000:1030])  # canonical aromatic, as users write them
    start, back0, errors = zinc_model.encode_refined(molecules, steps=0)
    assert errors == {} and np.array_equal(start, zinc_model.encode(molecules)[0])  # 0 steps: the encoder's codes
    codes, back, _ = zinc_model.encode_refined(molecules, steps=60)
    decoded = canonical_many("smiles", zinc_model.decode(codes, "argmax"))
    hits = np.array([d == m for d, m in zip(decoded, molecules)])
    assert np.array_equal(back, hits)  # the flag is what greedy decoding does
    assert np.all(back[back0]) and back.sum() >= back0.sum() + 3  # codes that decoded back are not moved away
    assert np.allclose(codes[back0], start[back0])
    moved = np.linalg.norm(codes - start, axis=1)
    assert np.all(moved[~back0] > 0)


def test_refinement_leaves_the_network_as_it_was(zinc_model, zinc):
    network = zinc_model.network
    before = {k: v.clone() for k, v in network.state_dict().items()}
    network.train()
    indices = zinc_model.sequence_indices(zinc[:4])[0]
    lengths = (indices != zinc_model.grammar.padding_rule).sum(axis=1)
    codes, back = refine_codes(network, zinc_model.encode(zinc[:4])[0], indices, lengths, steps=3)
    assert network.training and all(p.requires_grad for p in network.parameters())
    assert all(torch.equal(before[k], v) for k, v in network.state_dict().items())
    network.eval()
    assert codes.shape == (4, zinc_model.latent_dim) and back.dtype == bool


def test_cli_encode_then_decode_gives_the_molecule_back_and_says_whether_it_does(tmp_path, capsys):
    assert main(["encode", "--model", "pretrained:zinc-grae", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C1CC"]) == 1
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["decodes_back"] for r in records[:2]] == [True, True] and "error" in records[2]
    assert "Greedy decoding gives the string back from 2 of 2 codes." in captured.err
    vectors = tmp_path / "z.jsonl"
    vectors.write_text("".join(json.dumps({"z": r["z"]}) + "\n" for r in records[:2]))  # as printed: 6 decimals
    assert main(["decode", "--model", "pretrained:zinc-grae", "--file", str(vectors)]) == 0
    outputs = [json.loads(line)["output"] for line in capsys.readouterr().out.splitlines()]
    assert canonical_many("smiles", outputs) == ["Oc1ccccc1", "CC(=O)Nc1ccc(O)cc1"]
    # encode's output as it is, its error line included: every row comes back, in order, and the exit says one failed
    vectors.write_text(captured.out)
    assert main(["decode", "--model", "pretrained:zinc-grae", "--file", str(vectors)]) == 1
    piped = capsys.readouterr()
    rows = [json.loads(line) for line in piped.out.splitlines()]
    assert [r["input"] for r in rows] == ["c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C1CC"] and rows[2] == records[2]
    assert canonical_many("smiles", [r["output"] for r in rows[:2]]) == ["Oc1ccccc1", "CC(=O)Nc1ccc(O)cc1"]
    assert "1 of 3 lines are encode's errors, carried through" in piped.err
    vectors.write_text(json.dumps(records[2]) + "\n")
    assert main(["decode", "--model", "pretrained:zinc-grae", "--file", str(vectors)]) == 1
    assert "holds no latent vectors: encode could encode none of its strings." in capsys.readouterr().err

    assert main(["encode", "--model", "pretrained:zinc-grae", "--refine", "0", "c1ccccc1O"]) == 0
    assert json.loads(capsys.readouterr().out)["decodes_back"] in (True, False)
    with pytest.raises(SystemExit) as exit_:
        main(["encode", "--model", "pretrained:zinc-grae", "--refine", "-1", "CCO"])
    assert exit_.value.code == 2 and "--refine" in capsys.readouterr().err


def test_interpolation_starts_and_ends_at_its_molecules_once_the_ends_are_refined(zinc_model):
    path = interpolate(zinc_model, "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", steps=4)
    ends = canonical_many("smiles", [path[0][1], path[-1][1]])
    assert ends == ["Oc1ccccc1", "CC(=O)Nc1ccc(O)cc1"]
    raw = interpolate(zinc_model, "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", steps=4, refine=0)
    assert canonical_many("smiles", [raw[-1][1]]) != ["CC(=O)Nc1ccc(O)cc1"]  # the encoder's code alone misses it
    # nearest decoding ranks candidates by their encoder codes, so its ends are the encoder's codes
    nearest = interpolate(zinc_model, "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", steps=4, mode="nearest", candidates=1)
    assert [text for _, text in nearest] == [text for _, text in raw]
