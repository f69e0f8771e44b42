"""Objectives: known values, safety on invalid input, the shipped ZINC250k statistics, `score`."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from grammar_rae.cli.main import main
from grammar_rae.objectives.molecules import property_table, zinc_statistics
from grammar_rae.objectives.oracle import Oracle, top_auc
from grammar_rae.objectives.registry import (
    OBJECTIVE_NAMES,
    PMO_TASKS,
    ObjectiveError,
    get_objective,
    zinc_standardisation,
)


def test_penalized_logp_is_the_standardised_composite(zinc):
    stats = zinc_standardisation()
    sample = zinc[:50]
    table = property_table(sample, workers=1)
    expected = (
        (table[:, 0] - stats["logp"]["mean"]) / stats["logp"]["std"]
        - (table[:, 2] - stats["sa"]["mean"]) / stats["sa"]["std"]
        - (table[:, 3] - stats["cycle"]["mean"]) / stats["cycle"]["std"]
    )
    assert np.allclose(get_objective("penalized-logp")(sample), expected)
    assert np.allclose(get_objective("penalized-logp-raw")(sample), table[:, 0] - table[:, 2] - table[:, 3])


def test_objectives_match_rdkit_computed_directly(zinc):
    import networkx as nx
    from rdkit import Chem
    from rdkit.Chem import QED, Crippen
    from rdkit.Contrib.SA_Score import sascorer

    sample = zinc[::250][:1000]  # 1,000 molecules spread over the file
    logp, sa, cycle, qed = [], [], [], []
    for smiles in sample:
        mol = Chem.MolFromSmiles(smiles)
        logp.append(Crippen.MolLogP(mol))
        sa.append(sascorer.calculateScore(mol))
        rings = nx.cycle_basis(nx.Graph(Chem.rdmolops.GetAdjacencyMatrix(mol)))
        cycle.append(max(max((len(r) for r in rings), default=0) - 6, 0))
        qed.append(QED.qed(mol))
    logp, sa, cycle = np.array(logp), np.array(sa), np.array(cycle)
    stats = zinc_standardisation()
    z = lambda v, k: (v - stats[k]["mean"]) / stats[k]["std"]  # noqa: E731
    assert np.allclose(get_objective("logp")(sample), logp)
    assert np.allclose(get_objective("qed")(sample), qed)
    assert np.allclose(get_objective("penalized-logp-raw")(sample), logp - sa - cycle)
    assert np.allclose(get_objective("penalized-logp")(sample), z(logp, "logp") - z(sa, "sa") - z(cycle, "cycle"))
    assert cycle.max() > 0  # the sample includes a molecule with a large ring


def test_invalid_input_gets_the_worst_value_never_an_exception():
    for name in OBJECTIVE_NAMES:
        objective = get_objective(name)
        scores = objective(["C1CC", None, "x -", ""])
        assert np.all(scores == objective.worst), name
    assert get_objective("qed").worst == 0.0
    assert get_objective("expr-fit").worst == pytest.approx(np.log(1001))
    assert get_objective("penalized-logp").worst == zinc_standardisation()["composite_min"]


def test_user_objectives(tmp_path, monkeypatch):
    length = get_objective(lambda strings: [len(s or "") for s in strings])
    assert list(length(["CCO", "C"])) == [3, 1]
    nan_one = get_objective(lambda strings: [float("nan")] * len(strings), worst=-7.0)
    assert list(nan_one(["CCO"])) == [-7.0]
    with pytest.raises(ObjectiveError, match="did not return numbers"):
        get_objective(lambda strings: ["high"] * len(strings))(["CCO"])
    with pytest.raises(ObjectiveError, match="returned 1 values for 2 strings"):
        get_objective(lambda strings: [1.0])(["CCO", "CC"])
    (tmp_path / "my_objective.py").write_text("def atoms(strings):\n    return [s.count('C') for s in strings]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert list(get_objective("my_objective:atoms")(["CCO"])) == [2]
    with pytest.raises(ObjectiveError, match="Unknown objective 'happiness'"):
        get_objective("happiness")
    with pytest.raises(ObjectiveError, match="Cannot load the objective"):
        get_objective("my_objective:missing")
    with pytest.raises(ObjectiveError, match="scores expr strings"):
        get_objective("expr-fit").check_grammar("smiles")


def test_score_cli(tmp_path, capsys):
    molecules = tmp_path / "mine.smi"
    molecules.write_text("c1ccccc1\nnot-a-smiles\n")
    assert main(["score", "--objective", "penalized-logp-raw", "CCO", "--file", str(molecules), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["input"] for r in rows] == ["CCO", "c1ccccc1", "not-a-smiles"]
    assert [r["valid"] for r in rows] == [True, True, False]
    assert rows[1]["score"] == pytest.approx(1.6866 - 1.0, abs=1e-3)  # logP − SA − 0 for benzene
    assert rows[2]["score"] == get_objective("penalized-logp-raw").worst
    assert main(["score", "--objective", "nonsense", "CCO"]) == 1
    assert "Unknown objective" in capsys.readouterr().err
    # valid means in the grammar as well as readable by RDKit: [Xe] and a NUL byte are not SMILES of the grammar
    assert main(["score", "--objective", "logp", "C[Xe]", "\x00CCO", "CCO", "--json"]) == 0
    assert [json.loads(line)["valid"] for line in capsys.readouterr().out.splitlines()] == [False, False, True]
    assert main(["score", "--objective", "logp", "--grammar", "nosuch", "CCO"]) == 1
    assert "Unknown grammar 'nosuch'" in capsys.readouterr().err


@pytest.mark.slow
def test_shipped_statistics_recomputed_from_zinc250k(zinc):
    shipped = zinc_standardisation()
    again = zinc_statistics(zinc)
    assert again["molecules"] == shipped["molecules"] == 249_456
    for name in ("logp", "sa", "cycle"):
        assert again[name]["mean"] == pytest.approx(shipped[name]["mean"], rel=1e-9)
        assert again[name]["std"] == pytest.approx(shipped[name]["std"], rel=1e-9)
    for name in ("logp_min", "composite_min", "raw_min"):
        assert again[name] == pytest.approx(shipped[name], rel=1e-9)


REFERENCE = Path(__file__).parent / "reference" / "pmo_guacamol_scores.json.gz"


def test_pmo_tasks_equal_guacamols_own_scoring_functions(zinc):
    """The 19 PMO tasks defined as data equal guacamol 0.5.5's scoring functions on 1,000 ZINC250k
    molecules (reference values committed, made by tests/reference/make_pmo_reference.py)."""
    with gzip.open(REFERENCE, "rt") as handle:
        reference = json.load(handle)
    molecules = [zinc[line - 1] for line in reference["zinc250k_lines"]]
    assert sorted(reference["scores"]) == list(PMO_TASKS) and len(PMO_TASKS) == 19 and "qed" in OBJECTIVE_NAMES
    for name in PMO_TASKS:
        objective = get_objective(name)
        assert objective.maximize and objective.grammar == "smiles" and objective.worst == 0.0
        scores = objective(molecules)
        assert np.abs(scores - np.array(reference["scores"][name])).max() < 1e-6, name
        assert scores.max() > 0 or name == "valsartan_smarts"  # no ZINC molecule holds valsartan's SMARTS


def test_pmo_tasks_read_any_spelling_and_score_what_is_no_molecule_zero(capsys):
    celecoxib = "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1"  # RDKit's canonical form of the target
    objective = get_objective("celecoxib_rediscovery")
    kekule = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"  # the target as GuacaMol writes it
    assert objective([celecoxib, kekule, "C1CC", "", None, "c1cccc1"]).tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    # a molecule of the right formula scores 1 on the formula term; its isomer score is that term alone
    assert get_objective("isomers_c7h8n2o2")(["Nc1ccc([N+](=O)[O-])cc1C", "Cc1ccc(N)c([N+](=O)[O-])c1"]).tolist() == [
        1.0,
        1.0,
    ]
    assert main(["score", "--objective", "zaleplon_mpo", "C1CC", "CC(=O)N(CC)c1cccc(-c2ccnc3c(C#N)cnn23)c1"]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    # zaleplon itself: similarity 1, but the task asks for another formula (C19H17N3O2), so less than 1
    assert lines[0][1:] == ["0.0000", "invalid"] and lines[1][2] == "valid" and 0.4 < float(lines[1][1]) < 0.5
    assert main(["score", "--objective", "zaleplon", "CCO"]) == 1
    assert "Unknown objective 'zaleplon'" in capsys.readouterr().err


def test_the_oracle_counts_calls_as_pmo_does():
    """A call is the first evaluation of a distinct valid molecule: repeats in any spelling and strings
    that are no molecule are free; past the budget new molecules are not scored."""
    oracle = Oracle(get_objective("qed"), budget=3)
    first = oracle(["CCO", "OCC", "C1CC", "", "c1ccccc1"])  # ethanol twice (two spellings), two non-molecules
    assert oracle.calls == 2 and list(oracle.scores) == ["CCO", "c1ccccc1"]
    assert first[0] == first[1] > 0 and first[2] == first[3] == 0.0
    again = oracle(["C1=CC=CC=C1", "CCN", "CCCl", "CCO"])  # benzene (Kekulé) and ethanol free; one call left
    assert oracle.calls == 3 and oracle.spent and np.isnan(again[2]) and again[3] == first[0]
    assert again[0] == first[4] and list(oracle.scores) == ["CCO", "c1ccccc1", "CCN"]
    resumed = Oracle(get_objective("qed"), budget=3)
    resumed.restore(list(oracle.scores.items()))
    assert resumed.calls == 3 and resumed(["OCC"])[0] == first[0]


def test_top_auc_by_hand():
    # every 2 calls, top 1, budget 4; scores 0.1, 0.5, 0.3 and the run stopped after 3 calls:
    # read at 2 calls: best 0.5, area 2·(0.5 + 0)/2 = 0.5; at the last call (3): best 0.5, area (3 − 2)·(0.5 + 0.5)/2 = 0.5;
    # carried to the budget: (4 − 3)·0.5 = 0.5; AUC = 1.5 / 4
    assert top_auc([0.1, 0.5, 0.3], budget=4, top=1, every=2) == pytest.approx(0.375)
    assert top_auc([0.1, 0.5, 0.3], budget=4, top=1, every=2, finished=False) == pytest.approx(1.0 / 4)
    # a constant 0.7: the curve rises from 0 to 0.7 over the first 100 calls, then stays: (35 + 70) / 200;
    # calls past the budget do not count
    assert top_auc([0.7] * 200, budget=200, top=10, every=100) == pytest.approx(105 / 200)
    assert top_auc([0.7] * 250, budget=200, top=10, every=100) == pytest.approx(105 / 200)
