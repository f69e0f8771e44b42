"""BO's records: every committed seed file reads into the record dataclasses and writes back byte
for byte, and every committed summary, proposal table, comparison and figure of BO regenerates
byte-identical from the records (the same code path as ``optimize``, ``--rescore`` and ``--plots``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from grammar_rae.generation.trained import TrainedModel
from grammar_rae.objectives.registry import companion_objectives, get_objective
from grammar_rae.optimization import BOSettings, RandomRecord, SeedRecord
from grammar_rae.optimization.report import optimization_figures, resummarise

ROOT = Path(__file__).resolve().parents[1]


def committed(pattern: str) -> list[Path]:
    """The tracked files matching ``pattern`` (outside the PMO benchmark, whose records differ)."""
    listed = subprocess.run(["git", "ls-files", pattern], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [
        ROOT / name for name in listed.stdout.split() if not name.startswith(("results/pmo/", "results/pmo-design/"))
    ]


def test_every_committed_record_reads_and_writes_back_byte_for_byte():
    seeds = committed("results/**/optimization/*/seed-*.json")
    randoms = committed("results/**/optimization/*/random-seed-*.json")
    assert len(seeds) >= 100 and len(randoms) >= 50
    for path in seeds:
        record = SeedRecord.load(path)
        assert json.dumps(record.to_dict(), indent=2) + "\n" == path.read_text(), path
        assert record.full_settings["density_floor"] == record.settings.get("density_floor", 0.01)
    for path in randoms:
        assert json.dumps(RandomRecord.load(path).to_dict(), indent=2) + "\n" == path.read_text(), path
    older = [SeedRecord.load(path) for path in seeds if '"density_floor"' not in path.read_text()]
    assert older and all(it.density_floor is None for record in older for it in record.iterations)
    assert all(record.full_settings["acquisition"] == "ei" for record in older)  # what they ran with


def test_committed_bo_summaries_regenerate_byte_identical(tmp_path):
    summaries = committed("results/**/optimization/*/optimization.json")
    assert len(summaries) >= 10
    for k, path in enumerate(summaries):
        copy = tmp_path / str(k)
        shutil.copytree(path.parent, copy, ignore=shutil.ignore_patterns("*.png", "*.pt"))
        objective = get_objective(json.loads(path.read_text())["objective"])
        resummarise(copy, objective, [get_objective(name) for name in companion_objectives(objective.name)])
        for name in ("optimization.json", "proposals.csv"):
            assert (copy / name).read_bytes() == (path.parent / name).read_bytes(), path.parent / name


@pytest.mark.parametrize("run", ["expressions/grae", "molecules-ar/gvae"])
def test_committed_bo_figures_and_comparisons_regenerate_byte_identical(run, tmp_path):
    """The figures of every objective folder of a run, and its comparison tables and figures."""
    source = ROOT / "results" / run
    copy = tmp_path / "run"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("joint-search", "checkpoint.pt"))
    model = TrainedModel.load(copy)
    written = set()
    for summary in sorted(copy.glob("optimization/*/optimization.json")):
        if not (summary.parent / "best-so-far.png").exists():
            continue
        result = json.loads(summary.read_text())
        for name in ("best-so-far.png", "top.png"):
            (summary.parent / name).unlink()
        settings = BOSettings.from_record(result["settings"])
        written |= set(optimization_figures(model, get_objective(result["objective"]), result, settings))
    assert any(path.name.startswith("comparison-") and path.suffix == ".md" for path in written)
    assert len([path for path in written if path.name == "best-so-far.png"]) >= 2
    for path in written:
        original = source / path.relative_to(copy)
        assert path.read_bytes() == original.read_bytes(), original
