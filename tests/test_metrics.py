"""Generation metrics on hand-made sets with known answers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from grammar_rae.data.expressions import evaluator
from grammar_rae.data.validity import canonical_many, is_valid
from grammar_rae.evaluation.metrics import property_summary, set_metrics, unique_at
from grammar_rae.evaluation.moses import (
    FeatureSet,
    cosine_similarity,
    fcd_available,
    frechet_chemnet_distance,
    internal_diversity,
    moses_metrics,
    nearest_neighbour_similarity,
)
from grammar_rae.objectives.expressions import WORST_EXPR_FIT, expr_fit
from grammar_rae.objectives.molecules import largest_cycle_penalty, properties


def test_validity_uniqueness_novelty_by_hand():
    generated = ["CCO", "OCC", "CCO", "c1ccccc1", None, "C1CC", "C(C)(C)(C)(C)C"]  # OCC is CCO; the last two are invalid
    canonical = canonical_many("smiles", generated, workers=1)
    assert canonical[0] == canonical[1] == canonical[2] == "CCO" and canonical[4:] == [None, None, None]
    metrics = set_metrics(canonical, training={"CCO"})
    assert metrics.n == 7 and metrics.valid == 4
    assert metrics.validity == pytest.approx(4 / 7)
    assert metrics.uniqueness == pytest.approx(2 / 4)  # two duplicates of ethanol
    assert metrics.novelty == pytest.approx(1 / 2)  # ethanol is a training molecule, benzene is not
    assert unique_at(["a", "a", "b", "c"], 2) == 0.5 and unique_at(["a", "b"], 10) == 1.0


def test_expression_validity_means_finite_on_the_grid():
    assert is_valid("expr", "sin( x ) * 2")
    assert not is_valid("expr", "exp( x * x * x )")  # overflows on the grid
    assert not is_valid("expr", "x -")  # not in the grammar
    assert not is_valid("expr", None)
    assert np.allclose(evaluator().evaluate("1 / 3 + x", np.array([0.0, 3.0])), [1 / 3, 3 + 1 / 3])


def test_expression_fit_scores():
    scores = expr_fit(["1 / 3 + x + sin( x * x )", "exp( x * x * x )", None, "x"])
    assert scores[0] == pytest.approx(0.0) and scores[1] == scores[2] == WORST_EXPR_FIT
    x = np.linspace(-10, 10, 1000)
    assert scores[3] == pytest.approx(np.log1p(np.mean(np.minimum((1 / 3 + np.sin(x * x)) ** 2, 1000))))


def test_molecule_properties():
    benzene = properties("c1ccccc1")
    assert benzene.logp == pytest.approx(1.6866, abs=1e-3) and benzene.cycle == 0 and 1 <= benzene.sa < 2
    assert properties("C1CCCCCCCC1").cycle == 3  # a 9-membered ring
    assert properties("not a smiles") is None
    summary = property_summary(["c1ccccc1", "c1ccccc1"], workers=1)
    assert summary["logp"]["sd"] == 0.0 and summary["qed"]["mean"] == pytest.approx(benzene.qed)


def test_cycle_penalty_uses_the_cycle_basis():
    from rdkit import Chem

    assert largest_cycle_penalty(Chem.MolFromSmiles("CCCC")) == 0
    assert largest_cycle_penalty(Chem.MolFromSmiles("C1CCCCCCC1")) == 2


def test_fingerprint_metrics_by_hand(zinc):
    same = FeatureSet(["c1ccccc1"] * 5, workers=1)
    assert internal_diversity(same.fingerprints, 1) == pytest.approx(0.0)
    assert internal_diversity(same.fingerprints, 2) == pytest.approx(0.0)
    drugs = FeatureSet(zinc[:300], workers=1)
    assert nearest_neighbour_similarity(drugs.fingerprints, drugs.fingerprints) == pytest.approx(1.0)
    assert 0.8 < internal_diversity(drugs.fingerprints, 1) < 1.0
    assert internal_diversity(drugs.fingerprints, 2) <= internal_diversity(drugs.fingerprints, 1)
    assert cosine_similarity(Counter("aab"), Counter("aab")) == pytest.approx(1.0)
    assert cosine_similarity(Counter("a"), Counter("b")) == 0.0


def test_filters():
    charged, big_ring, iodine, plain = FeatureSet(["CC[NH3+]", "C1CCCCCCC1", "CI", "CCOC(=O)c1ccccc1"], workers=1).filters
    assert (charged, big_ring, iodine, plain) == (False, False, False, True)


def test_moses_table_against_itself(zinc):
    reference = FeatureSet(zinc[:500], workers=1)
    canonical = canonical_many("smiles", zinc[:500] + [None] * 100, workers=1)
    table = moses_metrics(canonical, reference, training=set(canonical[:250]), workers=1, fcd=fcd_available())
    assert table["valid"] == pytest.approx(500 / 600)
    assert table["snn"] == pytest.approx(1.0) and table["frag"] == pytest.approx(1.0) and table["scaf"] == pytest.approx(1.0)
    assert table["novelty"] == pytest.approx(0.5)
    if fcd_available():
        assert table["fcd"] < 0.5  # a set against itself
        assert frechet_chemnet_distance(zinc[:300], zinc[-300:]) > table["fcd"]
