"""Generation metrics on hand-made sets with known answers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from grammar_rae.data.expressions import evaluator
from grammar_rae.data.validity import canonical_many, is_valid
from grammar_rae.evaluation.filters import failed_filters, filter_patterns
from grammar_rae.evaluation.metrics import property_summary, set_metrics, unique_at
from grammar_rae.evaluation.moses import (
    MOSES_KEYS,
    FeatureSet,
    brics_fragments,
    cosine_similarity,
    features,
    frechet_distance,
    internal_diversity,
    moses_metrics,
    nearest_neighbour_similarity,
    property_distances,
)
from grammar_rae.objectives.expressions import WORST_EXPR_FIT, expr_fit
from grammar_rae.objectives.molecules import largest_cycle_penalty, properties
from grammar_rae.parallel import ItemError, parallel_map


def test_validity_uniqueness_novelty_by_hand():
    generated = [
        "CCO",
        "OCC",
        "CCO",
        "c1ccccc1",
        None,
        "C1CC",
        "C(C)(C)(C)(C)C",
    ]  # OCC is CCO; the last two are invalid
    canonical = canonical_many("smiles", generated, workers=1)
    assert canonical[0] == canonical[1] == canonical[2] == "CCO" and canonical[4:] == [None, None, None]
    metrics = set_metrics(canonical, training={"CCO"})
    assert metrics.n == 7 and metrics.valid == 4
    assert metrics.validity == pytest.approx(4 / 7)
    assert metrics.uniqueness == pytest.approx(2 / 4)  # two duplicates of ethanol
    assert metrics.novelty == pytest.approx(1 / 2)  # ethanol is a training molecule, benzene is not
    assert unique_at(["a", "a", "b", "c"], 2) == 0.5 and unique_at(["a", "b"], 10) == 1.0


def test_a_smiles_whose_canonical_form_rdkit_cannot_read_is_not_valid():
    # sampled by the cpu-ar GVAE: RDKit builds it, writes Clc1ns2oc1=C2, and cannot read that back
    sampled = "s\\5(n\\c\\2(Cl))/O\\C2=C5"
    assert (
        Chem.MolFromSmiles(sampled) is not None
        and Chem.MolFromSmiles(Chem.MolToSmiles(Chem.MolFromSmiles(sampled))) is None
    )
    assert not is_valid("smiles", sampled) and canonical_many("smiles", [sampled, "OCC"], workers=1) == [None, "CCO"]


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


def test_cycle_penalty_uses_the_cycle_basis_of_the_adjacency_matrix():
    import networkx as nx
    from rdkit import Chem

    assert largest_cycle_penalty(Chem.MolFromSmiles("CCCC")) == 0
    assert largest_cycle_penalty(Chem.MolFromSmiles("C1CCCCCCC1")) == 2
    # ZINC250k line 3986: the cycle basis of the bond-list graph has no cycle above 6 atoms, the
    # reference's adjacency-matrix graph (nodes in atom order) one of 11
    mol = Chem.MolFromSmiles("O=C(NC(=S)Nc1ccc2c3c(cccc13)CC2)c1cccc2ccccc12")
    by_bonds = nx.Graph([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()])
    assert max(len(c) for c in nx.cycle_basis(by_bonds)) - 6 <= 0
    assert largest_cycle_penalty(mol) == 5


def test_fingerprint_metrics_by_hand(zinc):
    same = FeatureSet(["c1ccccc1"] * 5, workers=1)
    assert internal_diversity(same.fingerprints, 1) == pytest.approx(0.0)
    assert internal_diversity(same.fingerprints, 2) == pytest.approx(0.0)
    drugs = FeatureSet(zinc[:300], workers=1)
    assert nearest_neighbour_similarity(drugs.fingerprints, drugs.fingerprints) == pytest.approx(1.0)
    # MOSES's IntDiv_p = 1 − mean over molecules of (mean Tanimoto^p to the set)^(1/p), recomputed with RDKit's
    # own Tanimoto on its Morgan fingerprints (radius 2, 1,024 bits): 0.86617 and 0.85158 on these 300 molecules
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    bits = [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in zinc[:300]]
    tanimoto = np.array([DataStructs.BulkTanimotoSimilarity(fp, bits) for fp in bits])
    for p, value in ((1, 0.86617), (2, 0.85158)):
        expected = 1 - np.mean(np.mean(tanimoto**p, axis=1) ** (1 / p))
        assert (
            internal_diversity(drugs.fingerprints, p)
            == pytest.approx(expected, abs=1e-6)
            == pytest.approx(value, abs=1e-5)
        )
    assert cosine_similarity(Counter("aab"), Counter("aab")) == pytest.approx(1.0)
    assert cosine_similarity(Counter("a"), Counter("b")) == 0.0


def test_filters():
    charged, big_ring, iodine, plain = FeatureSet(
        ["CC[NH3+]", "C1CCCCCCC1", "CI", "CCOC(=O)c1ccccc1"], workers=1
    ).filters
    assert (charged, big_ring, iodine, plain) == (False, False, False, True)
    patterns = filter_patterns()
    assert len(patterns) == 22 + 480 and all(p is not None for _, p in patterns)
    mol = Chem.MolFromSmiles
    assert failed_filters(mol("CC=O")) == ["MCF7"]  # an aldehyde: MOSES's MCF list, not in RDKit's catalogues
    assert failed_filters(mol("CCCCl")) == ["MCF4"]  # an alkyl halide
    assert failed_filters(mol("Oc1ccccc1O")) == ["catechol_A(92)"]  # PAINS
    assert failed_filters(mol("CCI")) == ["element outside C N S O F Cl Br H", "MCF4"]


def test_brics_fragments_count_every_piece():
    # cut at every BRICS bond at once; repeated pieces count each time, as MOSES counts them
    assert brics_fragments(Chem.MolFromSmiles("CCOCCOCC")) == [
        "[3*]O[3*]",
        "[3*]O[3*]",
        "[4*]CC",
        "[4*]CC",
        "[4*]CC[4*]",
    ]
    diether, ester = FeatureSet(["CCOCCOCC"], workers=1), FeatureSet(["CCOC(=O)c1ccccc1"], workers=1)
    assert diether.fragments == Counter({"[3*]O[3*]": 2, "[4*]CC": 2, "[4*]CC[4*]": 1})
    assert ester.fragments == Counter({"[1*]C([6*])=O": 1, "[16*]c1ccccc1": 1, "[3*]O[3*]": 1, "[4*]CC": 1})
    # shared pieces: [3*]O[3*] (2 × 1) and [4*]CC (2 × 1); norms √(4 + 4 + 1) and √4
    assert cosine_similarity(diether.fragments, ester.fragments) == pytest.approx(4 / (3 * 2))
    assert np.isnan(cosine_similarity(Counter(), ester.fragments))


def test_property_distances_are_wasserstein_by_hand(zinc):
    a = np.array([[1.0, 2.0, 0.5, 100.0], [3.0, 2.0, 0.5, 100.0]])
    b = np.array([[2.0, 2.0, 0.7, 150.0]])
    assert property_distances(a, b) == pytest.approx({"logp": 1.0, "sa": 0.0, "qed": 0.2, "weight": 50.0})
    features = FeatureSet(zinc[:3], workers=1)
    from rdkit.Chem import Descriptors

    assert features.properties[:, 3] == pytest.approx([Descriptors.MolWt(Chem.MolFromSmiles(s)) for s in zinc[:3]])


def test_feature_sets_save_and_load(tmp_path, zinc):
    features = FeatureSet(zinc[:40], workers=1)
    features.chemnet_statistics()
    features.save(tmp_path / "set.npz")
    again = FeatureSet.load(tmp_path / "set.npz")
    assert np.array_equal(again.fingerprints, features.fingerprints) and again.smiles == features.smiles
    assert again.fragments == features.fragments and again.scaffolds == features.scaffolds
    assert np.array_equal(again.filters, features.filters) and np.array_equal(again.properties, features.properties)
    assert np.array_equal(again.chemnet[1], features.chemnet[1])


def test_moses_table_against_itself(zinc):
    reference = FeatureSet(zinc[:500], workers=1, filters=False)
    canonical = canonical_many("smiles", zinc[:500] + [None] * 100, workers=1)
    table = moses_metrics(canonical, reference, training=set(canonical[:250]), workers=1)
    assert set(table) == set(MOSES_KEYS)
    assert table["valid"] == pytest.approx(500 / 600)
    assert (
        table["snn"] == pytest.approx(1.0)
        and table["frag"] == pytest.approx(1.0)
        and table["scaf"] == pytest.approx(1.0)
    )
    assert table["novelty"] == pytest.approx(0.5)
    assert all(table[name] == pytest.approx(0.0, abs=1e-12) for name in ("logp", "sa", "qed", "weight"))
    assert table["fcd"] < 0.5  # a set against itself
    other = FeatureSet(zinc[-300:], workers=1, filters=False)
    assert frechet_distance(other.chemnet_statistics(), reference.chemnet_statistics()) > table["fcd"]


def test_a_figure_without_a_value_says_why(zinc):
    reference = FeatureSet(zinc[:200], workers=1, filters=False)
    chains = canonical_many("smiles", ["CCO", "CCCCN", "CC(C)O", "C1CC"], workers=1)  # no rings; the last is invalid
    table = moses_metrics(chains, reference, training=None, workers=1, fcd=False)
    assert table["scaf"] is None and table["fcd"] is None and table["novelty"] is None
    assert table["missing"] == {
        "novelty": "needs the training set",
        "scaf": "no generated molecule has a ring scaffold",
        "fcd": "not asked for (--no-fcd)",
    }
    one = moses_metrics(chains[:1], reference, training=set(), workers=1)
    assert one["fcd"] is None and one["missing"]["fcd"].startswith("needs at least two valid molecules")
    nothing = moses_metrics([None, None], reference, training=set(), workers=1)
    assert nothing["intdiv"] is None and nothing["missing"]["intdiv"] == "no valid molecule"


def test_a_worker_error_names_its_item_even_when_rdkit_cannot_pickle_it():
    # features() assumes a valid SMILES; on "C1CC" RDKit raises a Boost.Python error, which cannot cross processes
    with pytest.raises(ItemError, match=r"features failed on 'C1CC': ArgumentError"):
        parallel_map(features, ["CCO", "OCC", "c1ccccc1", "C1CC"], workers=2, chunk_size=2)
