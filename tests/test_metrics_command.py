"""``grammar-rae metrics``: the MOSES table of a file, per-line failures, cached reference sets, bad input."""

from __future__ import annotations

import json
from contextlib import nullcontext

import pytest

from grammar_rae.cli.main import main
from grammar_rae.evaluation.moses import MOSES_KEYS
from grammar_rae.evaluation.references import MoleculeSource, file_metrics


@pytest.fixture
def sets(tmp_path, zinc, isolated_cache):
    generated = tmp_path / "generated.csv"
    rows = zinc[1000:1030] + ["not-a-smiles", "", "C1CC"] + zinc[2000:2010]  # 3 invalid rows: lines 32-34 of the CSV
    generated.write_text("SMILES,score\n" + "".join(f"{s},1\n" for s in rows))
    test = tmp_path / "test.smi"
    test.write_text("\n".join(zinc[1000:1200] + ["C1CC"]) + "\n")  # line 201 is invalid
    train = tmp_path / "train.smi"
    train.write_text("\n".join(zinc[2000:2300]) + "\n")
    return generated, test, train


def test_metrics_of_a_file(sets):
    generated, test, train = sets
    result = file_metrics(MoleculeSource(generated), MoleculeSource(test), MoleculeSource(train), workers=1, fcd=False)
    assert result["generated"]["lines"] == 43 and result["generated"]["valid"] == 40
    assert result["generated"]["invalid_lines"] == [32, 33, 34]  # line 1 is the header
    assert result["test"]["molecules"] == 200 and result["test"]["rejected_lines"] == [201]
    assert result["train"]["distinct_molecules"] == 300
    metrics = result["metrics"]
    assert set(metrics) == {*MOSES_KEYS, "missing"}
    assert metrics["valid"] == pytest.approx(40 / 43)
    assert metrics["novelty"] == pytest.approx(30 / 40)  # the last 10 are training molecules
    assert metrics["fcd"] is None and metrics["missing"] == {"fcd": "not asked for (--no-fcd)"}


def test_reference_sets_are_cached(sets, monkeypatch):
    generated, test, train = sets
    first = file_metrics(MoleculeSource(generated), MoleculeSource(test), MoleculeSource(train), workers=1, fcd=False)

    def no_recomputation(*args, **kwargs):
        raise AssertionError("a cached reference set was read again from its file")

    monkeypatch.setattr(MoleculeSource, "read", no_recomputation)
    again = file_metrics(MoleculeSource(generated), MoleculeSource(test), MoleculeSource(train), workers=1, fcd=False)
    assert again == first
    test.write_text(test.read_text() + "CCO\n")  # other bytes, other key: read again
    with pytest.raises(AssertionError, match="read again"):
        file_metrics(MoleculeSource(generated), MoleculeSource(test), MoleculeSource(train), workers=1, fcd=False)


def test_metrics_cli(sets, capsys):
    generated, test, train = sets
    assert (
        main(
            [
                "metrics",
                str(generated),
                "--test",
                str(test),
                "--train",
                str(train),
                "--no-fcd",
                "--n-jobs",
                "1",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["metrics"]["novelty"] == pytest.approx(0.75)
    assert (
        main(["metrics", str(generated), "--test", str(test), "--train", str(train), "--no-fcd", "--n-jobs", "1"]) == 0
    )
    out = capsys.readouterr().out
    assert "40 of 43 lines are valid molecules (invalid lines: 32, 33, 34)" in out
    assert "Novelty" in out and "0.7500" in out and "1 invalid lines left out" in out
    assert "n/a: not asked for (--no-fcd)" in out  # a figure without a value says why
    chains = generated.parent / "chains.smi"
    chains.write_text("CCO\nCCCCN\nCC(C)O\n")
    assert main(["metrics", str(chains), "--test", str(test), "--train", str(train), "--no-fcd", "--n-jobs", "1"]) == 0
    assert "n/a: no generated molecule has a ring scaffold" in capsys.readouterr().out


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda g, t, r: [str(g.parent / "missing.smi")], "missing.smi is not a file"),
        (lambda g, t, r: [str(g), "--test", str(g.parent / "nope.smi")], "nope.smi is not a file"),
        (
            lambda g, t, r: [str(g), "--column", "smiles_col", "--test", str(t), "--train", str(r)],
            "has no column 'smiles_col'",
        ),
        (lambda g, t, r: [str(g.parent / "empty.smi"), "--test", str(t), "--train", str(r)], "is empty"),
        (lambda g, t, r: [str(g), "--n-jobs", "0"], "must be at least 1"),
    ],
)
def test_metrics_bad_input(sets, capsys, make_args, message):
    generated, test, train = sets
    (generated.parent / "empty.smi").write_text("")
    with pytest.raises(SystemExit) if "at least" in message else nullcontext():
        status = main(["metrics", *make_args(generated, test, train), "--no-fcd"])
        assert status == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
