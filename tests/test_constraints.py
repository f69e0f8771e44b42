"""SMILES semantic constraints: they never exclude a real molecule's next rule, and what they let
through is a molecule RDKit accepts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem, RDLogger

from grammar_rae.data.validity import kekule_smiles
from grammar_rae.errors import GrammarRAEError
from grammar_rae.generation.decoding import DecodingTables, masked_decode
from grammar_rae.grammar.codec import Codec
from grammar_rae.grammar.constraints import constraints_wanted, has_constraints, make_constraints
from grammar_rae.models.networks import PrecomputedSteps


def _masked_true_rules(grammar, molecules: list[str]) -> list[tuple[str, int, str]]:
    """Follow each molecule's own derivation through the constraints; list (molecule, step, rule)
    wherever the true rule was not allowed."""
    indices = Codec(grammar).encode_batch(molecules).indices.astype(np.int64)
    tables = DecodingTables(grammar)
    candidates, slots = tables.candidates.numpy(), tables.slot_allowed.numpy()
    constraints = make_constraints(grammar, len(molecules))
    stacks = [[grammar.start_lhs] for _ in molecules]
    failures = {}
    for t in range(indices.shape[1]):
        top = np.array([s.pop() if s else grammar.padding_lhs for s in stacks])
        if (top == grammar.padding_lhs).all():
            break
        allowed = constraints.allowed(top, candidates[top]) & slots[top]
        truth = indices[:, t]
        kept = ((candidates[top] == truth[:, None]) & allowed).any(axis=1)
        for b in np.flatnonzero(~kept):
            failures.setdefault(b, (molecules[b], t, str(grammar.productions[truth[b]])))
        constraints.advance(truth)
        for stack, rule in zip(stacks, truth):
            stack.extend(reversed(grammar.rule_rhs_nonterminals[rule]))
    return list(failures.values())


def test_constraints_keep_the_true_rule_of_real_molecules(smiles_grammar, zinc):
    assert _masked_true_rules(smiles_grammar, zinc[5000:15000]) == []


def test_constraints_keep_the_true_rule_of_kekule_forms(smiles_grammar, zinc):
    assert _masked_true_rules(smiles_grammar, [kekule_smiles(s) for s in zinc[5000:7000]]) == []


@pytest.mark.slow
def test_constraints_keep_the_true_rule_of_every_zinc_molecule(smiles_grammar, zinc):
    for start in range(0, len(zinc), 25_000):
        assert _masked_true_rules(smiles_grammar, zinc[start : start + 25_000]) == []
    kekule = [kekule_smiles(s) for s in zinc[::10]]
    assert _masked_true_rules(smiles_grammar, kekule) == []


def _rdkit_outcome(smiles: str | None) -> str:
    RDLogger.DisableLog("rdApp.*")
    if smiles is None:
        return "incomplete"
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return "unreadable"  # unclosed or repeated ring bonds
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:  # noqa: BLE001 - RDKit's exception types differ by failure
        return type(exc).__name__
    return "valid"


def test_what_the_constraints_let_through_is_a_molecule(smiles_grammar):
    """Random logits with aromatic atoms pushed away (aromaticity is not among the constraints):
    every complete derivation the constraints steered alone (no fallback) is a molecule RDKit
    accepts, while the grammar mask alone gives mostly broken ring bonds and valences."""
    grammar, codec, tables = smiles_grammar, Codec(smiles_grammar), DecodingTables(smiles_grammar)
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn((400, grammar.max_length, grammar.n_rules), generator=generator) * 2
    aromatic = [i for i, p in enumerate(grammar.productions) if [str(s) for s in p.rhs()] == ["aromatic_organic"]]
    logits[:, :, aromatic] = -1e9
    noise = torch.empty((400, grammar.max_length, tables.width)).exponential_(generator=generator).log().neg()
    outcomes = {}
    for constrained in (False, True):
        result = masked_decode(PrecomputedSteps(logits), 400, tables, grammar.max_length, noise=noise,
                               constraints=make_constraints(grammar, 400) if constrained else None)
        strings = [codec.decode(r) if ok else None for r, ok in zip(result.rules.numpy(), result.valid.tolist())]
        outcomes[constrained] = [(_rdkit_outcome(s), f) for s, f in zip(strings, result.fallbacks.tolist())]
    plain = [o for o, _ in outcomes[False] if o != "incomplete"]
    steered = [o for o, fallbacks in outcomes[True] if o != "incomplete" and fallbacks == 0]
    assert len(steered) > 40 and set(steered) == {"valid"}
    assert plain.count("valid") < 0.5 * len(plain)
    assert sum(f > 0 for _, f in outcomes[True]) < 0.05 * 400  # the constraints rarely corner a derivation


def test_constraint_settings(smiles_grammar, expr_grammar):
    assert has_constraints(smiles_grammar) and not has_constraints(expr_grammar)
    assert constraints_wanted("auto", smiles_grammar) and not constraints_wanted("auto", expr_grammar)
    assert not constraints_wanted("none", smiles_grammar)
    with pytest.raises(GrammarRAEError, match="Unknown constraints setting 'on': use auto or none"):
        constraints_wanted("on", smiles_grammar)
    with pytest.raises(GrammarRAEError, match="has no semantic constraints"):
        make_constraints(expr_grammar, 3)


def test_beam_rows_follow_their_hypotheses(smiles_grammar, zinc):
    """``select`` reorders the state with the beam: a row copied from another continues its molecule."""
    grammar, codec = smiles_grammar, Codec(smiles_grammar)
    rules = codec.encode_batch(["C1CC1", "CCO"]).indices.astype(np.int64)
    constraints = make_constraints(grammar, 2)
    for t in range(4):  # both are inside their first atom; the first has opened ring 1 by step 8
        constraints.advance(rules[:, t])
    constraints.select(np.array([0, 0]))
    for t in range(4, 20):
        constraints.advance(rules[[0, 0], t])
    assert (constraints.ring_atom[:, 0] == -1).all() and (constraints.atoms == 3).all()
