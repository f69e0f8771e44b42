"""The expression reproduction pipeline at its tiny scale: every stage runs, the table is
written, and a second run resumes instead of redoing finished work."""

from __future__ import annotations

import json

from grammar_rae.cli.main import main
from grammar_rae.reproduce.expressions import expressions_experiment
from grammar_rae.reproduce.pipeline import run_experiment


def test_tiny_reproduction_writes_the_table_and_resumes(tmp_path, expr_slice):
    experiment = expressions_experiment("tiny", tmp_path / "out", models=("grae", "cvae"), data=str(expr_slice))
    results = run_experiment(experiment, log=lambda _: None)
    assert set(results["models"]) == {"grae", "cvae"}
    for name, entry in results["models"].items():
        bo = entry["optimization"]["bo"]
        assert 0.0 <= bo["fraction_valid"]["mean"] <= 1.0
        assert entry["training"]["epochs"] == 1
        assert {"reconstruction", "validity/gmm", "validity/prior"} <= set(entry["evaluation"])
        seed_file = tmp_path / "out" / name / "optimization" / "expr-fit" / "seed-1.json"
        assert len(json.loads(seed_file.read_text())["iterations"]) == 2
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| grae | BO |" in table and "| cvae | random |" in table
    assert "1.00 ± 0.00" in table and "4.74 ± 0.25" in table  # the paper's numbers beside ours

    # an interruption after GRAE: the CVAE's BO seed is gone; the rerun redoes only that
    grae_seed = tmp_path / "out" / "grae" / "optimization" / "expr-fit" / "seed-1.json"
    grae_metrics = tmp_path / "out" / "grae" / "metrics.jsonl"
    before = (grae_seed.stat().st_mtime_ns, grae_metrics.read_text())
    (tmp_path / "out" / "cvae" / "optimization" / "expr-fit" / "seed-1.json").unlink()
    (tmp_path / "out" / "results.json").unlink()
    again = run_experiment(experiment, log=lambda _: None)
    assert (grae_seed.stat().st_mtime_ns, grae_metrics.read_text()) == before
    assert again["models"]["grae"]["optimization"]["bo"] == results["models"]["grae"]["optimization"]["bo"]
    assert (tmp_path / "out" / "cvae" / "optimization" / "expr-fit" / "seed-1.json").exists()


def test_unknown_model_is_one_sentence(capsys):
    assert main(["reproduce", "expressions", "--models", "grae,transformer"]) == 1
    assert "choose from grae, gcvae, gvae, cvae" in capsys.readouterr().err
