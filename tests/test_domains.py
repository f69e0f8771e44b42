"""Languages are data: a grammar names its domain, and a new language needs no change elsewhere."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from rdkit import Chem

from grammar_rae.data.domains import DOMAINS, Domain, domain_of, register
from grammar_rae.data.prepare import prepare_dataset
from grammar_rae.data.validity import canonical_many, valid_mask
from grammar_rae.evaluation.metrics import set_metrics
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.models import ModelConfig, build_model
from grammar_rae.optimization import BOSettings

PALINDROMES = """# Palindromes of a and b around a c: a toy third language.
# @name: pal
# @domain: palindromes
# @start: S
# @padding: Nothing
# @max_length: 12
# @separator: ""
S -> 'a' S 'a' | 'b' S 'b' | 'c'
Nothing -> None
"""


def with_b(text: str | None) -> str | None:
    """The language's own rule beyond the grammar: a word must hold a b."""
    return text if text is not None and "b" in text else None


def no_b_reason(text: str) -> str | None:
    return None if "b" in text else "it holds no b"


@pytest.fixture
def palindromes(tmp_path):
    register(Domain("palindromes", canonical=with_b, check=no_b_reason, suffix=".pal", bo_decodes=3))
    path = tmp_path / "pal.cfg"
    path.write_text(PALINDROMES)
    yield Grammar.load(path)
    del DOMAINS["palindromes"]


def test_the_shipped_grammars_name_their_languages():
    assert domain_of(Grammar.load("smiles")).name == domain_of("smiles").name == "molecules"
    assert domain_of("expr").name == "expressions" and domain_of("expr").suffix == ".txt"
    assert domain_of("smiles").canonical("C1=CC=CC=C1") == "c1ccccc1" and domain_of("smiles").canonical("C1CC") is None


def test_a_third_language_is_a_grammar_file_and_a_domain(palindromes, tmp_path):
    assert palindromes.domain == "palindromes" and domain_of(palindromes.name).suffix == ".pal"
    # its training strings are screened by its own rule
    words = ["abcba", "bcb", "aacaa", "abbcbba", "c", "babcbab"]
    (tmp_path / "pal.txt").write_text("\n".join(words) + "\n")
    dataset = prepare_dataset(palindromes, tmp_path / "pal.txt", cache_dir=tmp_path / "cache")
    assert sorted(dataset.strings) == sorted(w for w in words if "b" in w)
    # a model of it decodes strings that its rule judges, and BO decodes each point as often as it says
    torch.manual_seed(0)
    # presets are tuned per shipped grammar: take the expression model's sizes for this one
    config = ModelConfig.from_preset("grae", "expr", palindromes.n_rules, palindromes.max_length, "cpu", latent_dim=4)
    config = dataclasses.replace(config, grammar="pal")
    model = TrainedModel(build_model(config, palindromes.rule_masks), palindromes, torch.device("cpu"))
    decoded = model.decode(np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32), mode="sample")
    assert model.domain.name == "palindromes" and model.input_form is None
    expected = [s is not None and "b" in s for s in decoded]
    assert valid_mask("pal", decoded).tolist() == expected and 0 < sum(expected) < len(decoded)
    canonical = canonical_many("pal", decoded)
    assert set_metrics(canonical).to_dict()["valid"] == sum(expected)
    assert BOSettings().attempts_for("pal") == 3


def test_a_molecule_with_its_stereo_marks_inverted_is_a_variant(zinc):
    molecules = [s for s in zinc[:400] if s.count("@") == 1][:10]
    assert len(molecules) == 10
    for smiles in molecules:
        variants = domain_of("smiles").variants(smiles)
        mol = Chem.MolFromSmiles(smiles)
        assert Chem.MolToSmiles(mol) in variants  # the molecule itself, canonical
        flipped = smiles.replace("@", "@@") if "@@" not in smiles else smiles.replace("@@", "@")
        assert Chem.MolToSmiles(Chem.MolFromSmiles(flipped)) in variants and len(set(variants)) == len(variants) >= 2
    assert len(domain_of("smiles").variants("C[C@H](N)[C@@H](O)C(=O)O")) == 4  # two marks, each either way
    assert domain_of("smiles").variants("CCO") == ["CCO"] and domain_of("smiles").variants("C1CC") == []
    assert domain_of("expr").variants is None
