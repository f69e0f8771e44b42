"""The Python quick start (examples/quickstart.py) runs as a user would run it, with and without
the expression data set prepared."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
from conftest import DATA

from grammar_rae.data import canonical_smiles
from grammar_rae.errors import DataError
from grammar_rae.objectives.registry import get_objective

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"


def _offline(name: str, target: Path) -> Path:
    raise DataError(f"Could not download {name} (this test runs offline).")


def _run(capsys) -> tuple[dict, str]:
    figures = runpy.run_path(str(QUICKSTART), run_name="quickstart")["main"]()
    return figures, capsys.readouterr().out


def test_quickstart_with_the_data_prepared(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRAMMAR_RAE_DATA_DIR", str(DATA))
    monkeypatch.setenv("GRAMMAR_RAE_CACHE_DIR", str(tmp_path / "cache"))
    figures, printed = _run(capsys)
    assert len(figures["valid"]) == 200 and figures["valid"].mean() >= 0.95  # the shipped model with constraints
    assert f"sampled 200 molecules, {int(figures['valid'].sum())} valid" in printed
    assert not figures["errors"] and len(figures["decoded"]) == 3 and all(figures["decoded"])
    inputs = [canonical_smiles(s) for s in ("CCOC(=O)c1ccccc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "CN1CCC[C@H]1c1cccnc1")]
    # a refined code says whether greedy decoding gives its molecule back, and says it truly
    assert figures["back"].tolist() == [canonical_smiles(g) == m for g, m in zip(figures["greedy"], inputs)]
    assert [round(t, 2) for t, _ in figures["path"]] == [0.0, 0.25, 0.5, 0.75, 1.0]
    plogp = get_objective("penalized-logp")
    assert (
        np.all(figures["scores"][:3] > plogp.worst) and figures["scores"][3] == plogp.worst
    )  # C1CC leaves a ring open
    bo = figures["bo"]["bo"]
    assert bo["seeds"] == [1] and 0 < len(bo["top"]) <= 10
    assert (tmp_path / "cache" / "pretrained" / "expr-grae" / "optimization").is_dir()  # BO writes to the user cache
    assert f"BO: fraction valid {bo['fraction_valid']['mean']:.2f}" in printed


def test_quickstart_needs_no_data_set_bo_included(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRAMMAR_RAE_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("GRAMMAR_RAE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("grammar_rae.data.sources.download", _offline)
    figures, printed = _run(capsys)
    assert figures["valid"].mean() >= 0.95 and figures["bo"]["bo"]["seeds"] == [1]
    assert figures["bo"]["settings"]["start"] == "density" and "BO: fraction valid" in printed


def test_the_readme_section_is_the_quickstart():
    readme = (QUICKSTART.parents[1] / "README.md").read_text()
    block = readme.split("## From Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    script = {line.strip() for line in QUICKSTART.read_text().splitlines()}
    assert [line for line in block.splitlines() if line.strip() and line.strip() not in script] == []
