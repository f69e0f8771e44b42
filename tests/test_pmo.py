"""The PMO benchmark: oracle calls counted as PMO counts them, AUC, files, exact resume, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from grammar_rae.cli.main import main
from grammar_rae.data.validity import canonical_many
from grammar_rae.errors import GrammarRAEError
from grammar_rae.generation.sampling import run_density
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.objectives.oracle import top_auc
from grammar_rae.objectives.registry import get_objective
from grammar_rae.optimization.pmo import TASKS, PMOSettings, TaskRun, published, results_table, top_curve

SMALL = PMOSettings(budget=220, batch=40, initial=60, candidates=600)


@pytest.fixture(scope="module")
def zinc_model():
    return TrainedModel.load("pretrained:zinc-grae", device="cpu")


def test_a_task_run_counts_calls_and_resumes_exactly(zinc_model, tmp_path, monkeypatch):
    straight = TaskRun(zinc_model, "median1", 1, SMALL, tmp_path / "straight").run()
    calls = pd.read_csv(tmp_path / "straight" / "bo" / "median1" / "seed-1.csv.gz", keep_default_na=False)
    assert straight["calls"] == len(calls) == 220 and straight["finished"] == "budget"
    assert calls["call"].tolist() == list(range(1, 221)) and calls["smiles"].is_unique  # repeats are free
    assert canonical_many("smiles", calls["smiles"].tolist()) == calls["smiles"].tolist()  # canonical, all valid
    assert np.allclose(calls["score"], get_objective("median1")(calls["smiles"].tolist()))
    assert straight["auc_top10"] == pytest.approx(top_auc(calls["score"].tolist(), 220, 10, 100))
    curve = top_curve(calls["score"].tolist(), 10)  # the mean of the best 10 so far, after each call
    assert curve[0] == calls["score"][0] and curve[-1] == pytest.approx(np.sort(calls["score"])[-10:].mean())
    assert np.all(np.diff(curve[9:]) >= 0)
    assert calls["iteration"].iloc[0] == 1 and (calls["iteration"] == 1).sum() <= 60  # the start counts

    original = TrainedModel.decode
    decodes = {"n": 0}

    def interrupted(self, *args, **kwargs):
        decodes["n"] += 1
        if decodes["n"] == 3:  # during the third iteration
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TrainedModel, "decode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        TaskRun(zinc_model, "median1", 1, SMALL, tmp_path / "cut").run()
    monkeypatch.setattr(TrainedModel, "decode", original)
    cut = pd.read_csv(tmp_path / "cut" / "bo" / "median1" / "seed-1.csv.gz", keep_default_na=False)
    assert cut["iteration"].max() == 2  # the interrupted iteration left nothing behind
    assert (tmp_path / "cut" / "bo" / "median1" / "gp-seed-1.pt").exists()  # the surrogate to resume with
    resumed = TaskRun(zinc_model, "median1", 1, SMALL, tmp_path / "cut").run()
    again = pd.read_csv(tmp_path / "cut" / "bo" / "median1" / "seed-1.csv.gz", keep_default_na=False)
    assert again.equals(calls) and resumed["auc_top10"] == straight["auc_top10"]
    assert not list((tmp_path / "cut").rglob("gp-seed-*.pt"))  # a finished run keeps no surrogate state


def test_local_candidates_lie_near_the_best_molecules(zinc_model, tmp_path):
    settings = PMOSettings(budget=160, batch=40, initial=60, candidates=600, local=0.5, radius=0.3, explore=0.5)
    run = TaskRun(zinc_model, "celecoxib_rediscovery", 2, settings, tmp_path)
    run.run()
    density, _ = run_density(zinc_model, "gmm")
    points = run._candidates(density, 99)
    assert points.shape == (600, zinc_model.latent_dim) and np.array_equal(points, run._candidates(density, 99))
    assert np.array_equal(points[:300], density.sample(300, seed=99))  # the rest: density draws
    codes, scores = run._training_data()
    best, spread = codes[np.argsort(-scores)[:10]], codes.std(axis=0, ddof=1)
    # each point's distance to the nearest of the 10 best codes, per coordinate in units of its spread
    distance = np.sqrt((((points[:, None, :] - best[None]) / spread) ** 2).mean(axis=2)).min(axis=1)
    assert np.all((0.2 < distance[300:]) & (distance[300:] < 0.4))  # noise of 0.3 spreads
    assert np.median(distance[:300]) > 0.8
    chosen = run._choose(run._fit(None), points)  # half the batch among the density draws alone
    rows = [int(np.flatnonzero((points == point).all(axis=1))[0]) for point in chosen]
    assert len(set(rows)) == 40 and all(row < 300 for row in rows[:20])
    for bad in ({"local": 1.5}, {"explore": -0.1}, {"radius": 0.0}):
        with pytest.raises(GrammarRAEError, match="shares are between 0 and 1 and the radius above 0"):
            PMOSettings(**bad)


def test_benchmark_cli_table_json_and_refusals(zinc_model, tmp_path, capsys):
    args = [
        "benchmark",
        "pmo",
        "--model",
        "pretrained:zinc-grae",
        "--tasks",
        "qed",
        "--budget",
        "150",
        "--seeds",
        "1-2",
        "--batch",
        "50",
        "--initial",
        "50",
        "--out",
        str(tmp_path),
        "--json",
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    row = result["tasks"]["qed"]
    assert (
        len(row["seeds"]) == 2
        and row["auc_top10"] == pytest.approx(np.mean(row["seeds"]))
        and result["sum"] == row["auc_top10"]
    )
    assert 0.5 < row["auc_top10"] < 1.0 and row["calls"] == [150, 150]
    assert main(args) == 1
    assert "pass --resume" in capsys.readouterr().err
    assert main([*args, "--resume", "--plots"]) == 0  # finished runs: nothing left to do, the same table
    captured = capsys.readouterr()
    assert json.loads(captured.out.splitlines()[-1])["tasks"]["qed"]["seeds"] == row["seeds"]
    assert (
        f"figure: {tmp_path / 'top10-curves.png'}" in captured.err
        and (tmp_path / "top10-curves.png").stat().st_size > 0
    )
    table = (tmp_path / "table.md").read_text()  # written with the runs, beside PMO's published figures
    one = json.loads((tmp_path / "bo" / "summary.json").read_text())["tasks"]["qed"]
    sem = float(np.std(one["seeds"], ddof=1) / np.sqrt(2))
    assert f"| qed | {one['auc_top10']:.3f} ± {sem:.3f} | 0.941 | 0.940 |" in table
    assert "| **sum** | – (1 of 20 tasks) | 11.588 | 11.437 |" in table and "Gao, Fu, Sun, Coley" in table
    assert f"Searched in `pretrained:zinc-grae` (weights {zinc_model.weights_id})." in table
    assert main([*args[:-1], "--resume", "--batch", "20"]) == 1
    assert "was made with other settings" in capsys.readouterr().err
    assert json.loads((tmp_path / "bo" / "qed" / "seed-1.json").read_text())["model"] == zinc_model.weights_id
    other = [*args[:-3], "--out", str(tmp_path), "--method", "random", "--resume"]
    other[other.index("pretrained:zinc-grae")] = "pretrained:zinc-grae-paper-decoder"
    assert main(other) == 1  # not even another method of another model: the table would mix them
    assert f"holds PMO runs of another model (weights {zinc_model.weights_id};" in capsys.readouterr().err
    assert not (tmp_path / "random").exists()
    for bad, message in (
        (["--tasks", "qed,logp"], "Unknown PMO task logp"),
        (["--model", "pretrained:expr-grae"], "PMO's tasks score molecules"),
    ):
        assert main(["benchmark", "pmo", *bad, "--budget", "10", "--out", str(tmp_path / "other")]) == 1
        assert message in capsys.readouterr().err
    assert not (tmp_path / "other").exists()
    with pytest.raises(SystemExit) as exit_:
        main(["benchmark", "pmo", "--local", "1.5", "--out", str(tmp_path / "other")])
    assert exit_.value.code == 2 and "--local: 1.5 must be a share between 0 and 1" in capsys.readouterr().err


def test_published_figures_cover_every_task_and_add_up(tmp_path):
    reference = published()
    for method, values in reference["methods"].items():
        assert set(values) == set(TASKS), method
        assert all(0.0 <= mean <= 1.0 and sd >= 0.0 for mean, sd in values.values())
    # PMO's sums over 23 tasks less its three classifier tasks (Gao et al. 2022, Table 2), within the reprint's rounding
    for method, twenty in (("REINVENT", 11.603), ("Graph GA", 11.446), ("SMILES GA", 10.201)):
        assert sum(mean for mean, _ in reference["methods"][method].values()) == pytest.approx(twenty, abs=0.02)
    for method, seeds in (("bo", [1, 2]), ("random", [1, 2, 3])):  # two methods, every task run: sums per seed
        rows = {
            task: {"auc_top10": float(np.mean(s)), "sem": float(np.std(s, ddof=1) / np.sqrt(len(s))), "seeds": s}
            for task in TASKS
            for s in [[0.5 + 0.01 * k for k in seeds]]
        }
        (tmp_path / method).mkdir()
        summary = {
            "seeds": seeds,
            "settings": {"budget": 10_000, "top": 10},
            "tasks": rows,
            "model": "m",
            "weights": "w",
        }
        (tmp_path / method / "summary.json").write_text(json.dumps(summary))
    table = results_table(tmp_path)
    assert "| grammar-rae BO (seeds 1, 2) | random GMM (seeds 1, 2, 3) | REINVENT |" in table
    sums = "| **sum** | 10.300 ± 0.100 | 10.400 ± 0.115 | 11.588 |"  # each seed's sum: 10.2, 10.4 (, 10.6)
    assert sums in table and "Searched in `m` (weights w)." in table
