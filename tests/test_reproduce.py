"""The expression and molecule reproduction pipelines at their tiny scale: every stage runs, the table is
written, and a second run resumes instead of redoing finished work."""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from grammar_rae.cli.main import main
from grammar_rae.optimization.records import optimization_folder
from grammar_rae.reproduce import pipeline
from grammar_rae.reproduce.expressions import expressions_experiment
from grammar_rae.reproduce.molecules import molecules_experiment
from grammar_rae.reproduce.pipeline import Experiment, run_experiment, save_results, write_tables


def bo_folder(experiment: Experiment, model: str) -> Path:
    """Where an experiment's BO files of ``model`` are (the tiny scale's settings have their own folder)."""
    return optimization_folder(experiment.out / model, experiment.objective, experiment.bo.tag(experiment.grammar))


def test_tiny_reproduction_writes_the_table_and_resumes(tmp_path, expr_slice, caplog):
    experiment = expressions_experiment("tiny", tmp_path / "out", models=("grae", "cvae"), data=str(expr_slice))
    results = run_experiment(experiment)
    assert set(results["models"]) == {"grae", "cvae"}
    for name, entry in results["models"].items():
        bo = entry["optimization"]["bo"]
        assert entry["training"]["epochs"] == 1
        assert {"reconstruction", "validity/gmm", "validity/prior"} <= set(entry["evaluation"])
        seed_file = bo_folder(experiment, name) / "seed-1.json"
        iterations = json.loads(seed_file.read_text())["iterations"]
        assert len(iterations) == 2 and bo["seeds"] == [1]
        assert bo["fraction_valid"]["mean"] == pytest.approx(
            np.mean([p["valid"] for it in iterations for p in it["proposals"]])
        )
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| grae | BO |" in table and "| cvae | random |" in table
    assert "1.00 ± 0.00" in table and "4.74 ± 0.25" in table  # the paper's numbers beside ours
    for name in ("grae", "cvae"):  # the figures: samples and BO curves (top strings where BO found valid ones)
        figures = {p.name for p in (tmp_path / "out" / name).rglob("*.png")}
        assert {"evaluation-gmm-latent.png", "evaluation-prior-latent.png", "best-so-far.png"} <= figures
        assert ("top.png" in figures) == bool(results["models"][name]["optimization"]["bo"]["top"])
    assert (tmp_path / "out" / "best-so-far.png").stat().st_size > 10_000

    # an interruption after GRAE: the CVAE's BO seed is gone; the rerun redoes only that
    grae_seed = bo_folder(experiment, "grae") / "seed-1.json"
    grae_metrics = tmp_path / "out" / "grae" / "metrics.jsonl"
    before = (grae_seed.stat().st_mtime_ns, grae_metrics.read_text())
    (bo_folder(experiment, "cvae") / "seed-1.json").unlink()
    (tmp_path / "out" / "results.json").unlink()
    again = run_experiment(experiment)
    assert (grae_seed.stat().st_mtime_ns, grae_metrics.read_text()) == before
    assert again["models"]["grae"]["optimization"]["bo"] == results["models"]["grae"]["optimization"]["bo"]
    assert (bo_folder(experiment, "cvae") / "seed-1.json").exists()

    # a run of one model adds its row to the table instead of replacing the others, also the row of a
    # model that a run beside it finished while this one was busy (here a copy of GRAE's folder as GVAE)
    only_cvae = expressions_experiment("tiny", tmp_path / "out", models=("cvae",), data=str(expr_slice))

    class OtherRunFinishes(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("[cvae] Bayesian optimisation"):
                shutil.copytree(tmp_path / "out" / "grae", tmp_path / "out" / "gvae")

    pipeline_log = logging.getLogger("grammar_rae.reproduce.pipeline")
    pipeline_log.addHandler(handler := OtherRunFinishes())
    try:
        with caplog.at_level(logging.INFO, logger="grammar_rae.reproduce.pipeline"):
            assert list(run_experiment(only_cvae)["models"]) == ["grae", "gvae", "cvae"]
    finally:
        pipeline_log.removeHandler(handler)
    assert "| grae | BO |" in (tmp_path / "out" / "results.md").read_text()
    (tmp_path / "out" / "results.json").unlink()  # the table is rebuilt from the folders, running nothing
    assert list(write_tables(only_cvae)["models"]) == ["grae", "gvae", "cvae"]
    assert json.loads((tmp_path / "out" / "results.json").read_text())["experiment"]["models"] == [
        "grae",
        "gvae",
        "cvae",
    ]

    # two processes write the table at once: one collected its rows and is still writing when the
    # other finishes a model (GCVAE, a copy of GRAE's folder) and writes; the table keeps both
    context = multiprocessing.get_context("fork")
    collected = context.Event()

    def slow_writer() -> None:
        def save_slowly(out, results):
            collected.set()
            time.sleep(2.0)  # the other process finishes its model meanwhile
            save_results(out, results)

        pipeline.save_results = save_slowly
        write_tables(only_cvae)

    def other_model_finishes() -> None:
        collected.wait(30)
        shutil.copytree(tmp_path / "out" / "grae", tmp_path / "out" / "gcvae")
        write_tables(only_cvae)

    processes = [context.Process(target=slow_writer), context.Process(target=other_model_finishes)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0, 0]
    assert json.loads((tmp_path / "out" / "results.json").read_text())["experiment"]["models"] == [
        "grae",
        "gcvae",
        "gvae",
        "cvae",
    ]
    assert "| gcvae | BO |" in (tmp_path / "out" / "results.md").read_text()


def test_unknown_model_is_one_sentence(capsys):
    assert main(["reproduce", "expressions", "--models", "grae,transformer"]) == 1
    assert "choose from grae, gcvae, gvae, cvae" in capsys.readouterr().err


def test_tiny_molecule_reproduction_reports_moses_and_raw_penalized_logp(tmp_path, zinc_slice):
    experiment = molecules_experiment("tiny", out=tmp_path / "mol", models=("grae",), data=str(zinc_slice))
    assert experiment.preset == "cpu" and experiment.extra_objectives == ("penalized-logp-raw",)
    results = run_experiment(experiment)
    opt = results["models"]["grae"]["optimization"]
    seed = json.loads((bo_folder(experiment, "grae") / "seed-1.json").read_text())
    scores = [p["score"] for it in seed["iterations"] for p in it["proposals"]]
    assert len(scores) == 8 and opt["bo"]["seeds"] == [1]
    for entry in opt["bo"]["top"] + opt["random"]["top"]:  # every top molecule also carries its raw penalized logP
        assert "penalized-logp-raw" in entry
    table = (tmp_path / "mol" / "results.md").read_text()
    assert "preset cpu" in table and "| grae | BO |" in table and "| grae | random |" in table
    assert "0.72 ± 0.09" in table and "-5.62 ± 0.71" in table and "3.74, 3.52, 3.14" in table
    assert "| grae | GMM |" in table and "| grae | N(0, I) |" in table and "FCD" in table  # the MOSES table
    figures = {p.name for p in (tmp_path / "mol" / "grae").rglob("*.png")}
    assert {"evaluation-gmm-properties.png", "best-so-far.png", "top.png"} <= figures


def test_molecule_defaults_follow_the_preset():
    assert molecules_experiment().out.as_posix() == "results/molecules"
    paper = molecules_experiment(preset="paper")
    assert (
        paper.out.as_posix() == "results/molecules-paper"
        and paper.preset == "paper"
        and paper.seeds == tuple(range(1, 11))
    )
    quick = molecules_experiment("quick", preset="paper")
    assert quick.out.as_posix() == "results/molecules-paper-quick" and quick.seeds == (1, 2)


def test_unknown_preset_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "molecules", "--preset", "huge"])
    assert exit_info.value.code == 2 and "invalid choice: 'huge'" in capsys.readouterr().err
