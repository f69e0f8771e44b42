"""What BO's records say: the seeds of ``optimize`` and the random baseline summarised in the
paper's table (fraction valid, average score of valid proposals ± standard error over seeds,
top-3 strings, surrogate RMSE and log-likelihood) and saved as ``optimization.json`` and a CSV of
every proposal."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from grammar_rae.data.domains import domain_of
from grammar_rae.errors import GrammarRAEError
from grammar_rae.evaluation.plots import best_so_far_curves, comparison_curves, expression_curves, molecule_grid
from grammar_rae.files import save_json, write_atomic
from grammar_rae.generation.sampling import run_density
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.objectives.registry import Objective
from grammar_rae.optimization.data_region import below_floor
from grammar_rae.optimization.records import (
    Proposal,
    RandomRecord,
    SeedRecord,
    objective_folder,
    objective_folder_name,
    random_records,
    seed_records,
)
from grammar_rae.optimization.settings import PROTOCOL, BOSettings


def mean_sem(values: Sequence[float]) -> dict:
    values = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if len(values) == 0:
        return {"mean": None, "sem": None}
    sem = (
        float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else None
    )  # the sample std: one seed has no error
    return {"mean": float(values.mean()), "sem": sem}


def summarise(proposals_by_seed: dict[int, list[Proposal]], objective: Objective, top: int = 3) -> dict:
    """Fraction valid and average valid score (mean ± standard error over seeds, from the sample std) and the top strings.
    The top list names each molecule (canonical form) once, by the first string that proposed it:
    ``CCCCCCCC`` and ``CCCCCCC(C)`` are both octane."""
    canonical = domain_of(objective.grammar).canonical
    fractions, averages, best = [], [], {}
    for proposals in proposals_by_seed.values():
        valid = [p for p in proposals if p.valid]
        fractions.append(len(valid) / len(proposals) if proposals else np.nan)
        averages.append(np.mean([p.score for p in valid]) if valid else np.nan)
        for p in valid:
            best.setdefault(canonical(p.string) or p.string, (p.string, p.score))
    ranked = sorted(best.values(), key=lambda kv: kv[1], reverse=objective.maximize)[:top]
    return {
        "seeds": sorted(proposals_by_seed),
        "fraction_valid": mean_sem(fractions),
        "average_score": mean_sem(averages),
        "top": [{"string": s, "score": v} for s, v in ranked],
    }


def write_summary(
    folder: Path,
    model: str,
    objective: Objective,
    settings: dict,
    runs: dict[int, SeedRecord],
    randoms: dict[int, RandomRecord] | None,
    extra: Sequence[Objective] = (),
) -> dict:
    """Summarise the seeds' records (and the random baseline's) into
    ``optimization.json`` and ``proposals.csv``; returns the summary.

    Args:
        folder: the objective's BO folder.
        model: the model's name for the summary.
        objective: what was optimised.
        settings: the BO settings' record.
        runs: each seed's record.
        randoms: each seed's random-baseline record (None: no baseline).
        extra: objectives also reported for the top strings.
    """
    bo = summarise({s: record.proposals for s, record in runs.items()}, objective)
    bo["surrogate"] = {
        "rmse": mean_sem([record.iterations[0].surrogate["rmse"] for record in runs.values()]),
        "log_likelihood": mean_sem([record.iterations[0].surrogate["log_likelihood"] for record in runs.values()]),
        "note": "first iteration of each seed; held-out 10% of the starting points; in the maximised units (sign applied)",
    }
    calls = [record.objective_calls for record in runs.values() if record.objective_calls is not None]
    if calls:
        bo["objective_calls"] = {
            "start": float(np.mean([c["start"] for c in calls])),
            "proposals": float(np.mean([c["proposals"] for c in calls])),
            "note": "per seed: the starting points scored, then one call per proposal",
        }
    below = {
        s: [
            bool(below_floor(p.log_density, it.density_floor))
            for it in record.iterations
            if it.density_floor is not None
            for p in it.proposals
        ]
        for s, record in runs.items()
    }
    if any(below.values()):  # seeds run before the density floor was recorded are left out
        bo["below_density_floor"] = mean_sem([np.mean(b) for b in below.values() if b])
    result = {
        "model": model,
        "objective": objective.name,
        "maximize": objective.maximize,
        "settings": settings,
        "bo": bo,
    }
    rows = [
        {"method": "bo", "seed": s, "iteration": it.iteration, "string": p.string, "valid": p.valid, "score": p.score}
        for s, record in runs.items()
        for it in record.iterations
        for p in it.proposals
    ]
    if randoms is not None:
        result["random"] = summarise({s: record.proposals for s, record in randoms.items()}, objective)
        rows += [
            {"method": "random", "seed": s, "iteration": None, "string": p.string, "valid": p.valid, "score": p.score}
            for s, record in randoms.items()
            for p in record.proposals
        ]
    for other in extra:
        for table in (result["bo"], result.get("random", {})):
            for entry in table.get("top", []):
                entry[other.name] = float(other([entry["string"]])[0])
    save_json(folder / "optimization.json", result)
    frame = pd.DataFrame(rows)
    write_atomic(folder / "proposals.csv", lambda out: out.write(frame.to_csv(index=False).encode()))
    return result


def _rescore(proposals: list[Proposal], objective: Objective) -> None:
    scores = objective([p.string if p.valid else None for p in proposals])
    for p, score in zip(proposals, scores):
        p.score = float(score) if p.valid else objective.worst


def rescore(folder: Path, objective: Objective, extra: Sequence[Objective] = ()) -> dict:
    """Score the saved proposals of every seed (and of the random baseline) again with the
    objective as it is defined now, rewrite the seeds' files and the summary; runs no BO.
    (The surrogate of each seed saw the scores of its time; only the reported numbers change.)"""
    _saved_summary(folder)  # refused before anything is scored
    for seed, record in seed_records(folder).items():
        for iteration in record.iterations:
            _rescore(iteration.proposals, objective)
        record.save(Path(folder) / f"seed-{seed}.json")
    for seed, record in random_records(folder).items():
        _rescore(record.proposals, objective)
        record.save(Path(folder) / f"random-seed-{seed}.json")
    return resummarise(folder, objective, extra)


def resummarise(folder: Path, objective: Objective, extra: Sequence[Objective] = ()) -> dict:
    """Write ``optimization.json`` and ``proposals.csv`` again from the seeds' records as saved
    (e.g. after seeds were added by hand or the files were lost); runs no BO and scores nothing
    but ``extra`` on the top strings."""
    summary = _saved_summary(folder)
    runs, randoms = seed_records(folder), random_records(folder)
    return write_summary(folder, summary["model"], objective, summary["settings"], runs, randoms or None, extra)


def _saved_summary(folder: Path) -> dict:
    path = Path(folder) / "optimization.json"
    if not path.exists():
        raise GrammarRAEError(f"{folder} has no optimization.json: there are no finished BO results to summarise.")
    return json.loads(path.read_text())


def proposal_scores(folder: Path) -> dict[str, dict[int, list[float]]]:
    """The scores in a ``proposals.csv`` (written by :func:`optimize`) in evaluation order, by
    method (``bo``, ``random``) and seed."""
    frame = pd.read_csv(Path(folder) / "proposals.csv")
    return {
        method: {int(seed): group["score"].tolist() for seed, group in rows.groupby("seed")}
        for method, rows in frame.groupby("method")
    }


def optimization_figures(
    model: TrainedModel, objective: Objective, result: dict, settings: BOSettings | None = None
) -> list[Path]:
    """``best-so-far.png`` (each seed's running best, BO against the random baseline) and
    ``top.png`` (the top strings: molecules drawn, expressions as curves) next to the seeds' files
    (of the protocol's settings, or of ``settings``)."""
    folder = objective_folder(model, objective, settings)
    scores = proposal_scores(folder)
    paths = [
        best_so_far_curves(
            scores.get("bo", {}), objective.maximize, objective.name, folder / "best-so-far.png", scores.get("random")
        )
    ]
    top = [t["string"] for t in result["bo"]["top"]]
    if top and model.domain.figures == "molecules":
        paths.append(
            molecule_grid(top, folder / "top.png", [f"{t['score']:.2f}" for t in result["bo"]["top"]], per_row=3)
        )
    elif top and model.domain.figures == "expressions":
        paths.append(expression_curves(top, folder / "top.png"))
    return paths + compare_settings(model, objective)


def settings_label(settings: dict, grammar_name: str) -> str:
    """How BO settings differ from the protocol's (``protocol`` for none), the number of
    iterations aside."""
    protocol, given = _flat(PROTOCOL.record(grammar_name)), _flat(settings)
    changed = [f"{k} {v}" for k, v in given.items() if k != "iterations" and protocol.get(k, v) != v]
    return ", ".join(changed) or "protocol"


def finished_runs(root: Path, grammar_name: str) -> list[tuple[str, Path, dict]]:
    """Every finished BO under a run's ``optimization/`` folder ``root`` (its folders with an
    ``optimization.json``) as (settings label, folder, summary), by objective, the protocol's
    folder before those of other settings (their names extend its name)."""
    results = [
        (folder, json.loads((folder / "optimization.json").read_text()))
        for folder in Path(root).glob("*")
        if (folder / "optimization.json").exists()
    ]
    return [
        (settings_label(result["settings"], grammar_name), folder, result)
        for folder, result in sorted(results, key=lambda item: (item[1]["objective"], item[0].name))
    ]


def _flat(settings: dict, prefix: str = "") -> dict:
    """Nested settings as ``{"surrogate.inducing": 500, ...}``."""
    flat = {}
    for key, value in settings.items():
        flat.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return flat


def compare_settings(model: TrainedModel, objective: Objective) -> list[Path]:
    """Every BO of ``objective`` finished for one model (the protocol's folder and those of other
    settings, e.g. another ``--acquisition``) side by side, where there are several:
    ``optimization/comparison-<objective>.md`` (one row per settings and per random baseline:
    fraction valid, average, best and top 3 per seed, share of proposals below the density floor,
    fraction valid and average by iteration; the average also over the seeds every row has, for a
    like-for-like reading) and ``.png`` (mean best-so-far curves). Returns the paths written."""
    root = model.run.optimization()
    name = objective_folder_name(objective)
    results = {
        label: (folder, result)
        for label, folder, result in finished_runs(root, model.grammar.name)
        if result["objective"] == objective.name
    }
    if len(results) < 2:
        return []
    floors = _recorded_floors(folder for folder, _ in results.values())
    scores = {label: proposal_scores(folder) for label, (folder, _) in results.items()}
    shared = sorted(set.intersection(*[set(s.get("bo", {})) for s in scores.values()]))
    baselines = [label for label, (_, result) in results.items() if "random" in result]
    rows = [
        "| settings | seeds | fraction valid | average score | average on seeds "
        + _seed_text(shared)
        + " | best per seed | top 3 per seed | best | below the density floor | fraction valid by iteration | "
        "average by iteration |",
        "| --- " * 11 + "|",
    ]
    for label, (folder, result) in results.items():
        frame = pd.read_csv(folder / "proposals.csv")
        below = result["bo"].get("below_density_floor") or _share_below(
            model, folder, floors.get(BOSettings.from_record(result["settings"]).density_floor)
        )
        rows.append(
            _comparison_row(
                label,
                frame[frame["method"] == "bo"],
                shared,
                objective,
                mean_sem_text(below, 2) if below else "not recorded",
            )
        )
        if label in baselines:
            rows.append(
                _comparison_row(
                    "random GMM" + (f", {label}" if len(baselines) > 1 else ""),
                    frame[frame["method"] == "random"],
                    shared,
                    objective,
                    "–",
                )
            )
    table = root / f"comparison-{name}.md"
    write_atomic(
        table,
        lambda out: out.write(
            (
                "\n".join(
                    [
                        f"# BO of {objective.name} ({'higher' if objective.maximize else 'lower'} is better), by settings",
                        "",
                        "Mean ± standard error over seeds; averages are those of the valid proposals; best and top 3 "
                        "(each string once, by canonical form) are found per seed, then averaged; by iteration, means "
                        "over seeds. The random GMM baseline draws as many points per seed as BO evaluates. Written by "
                        "`grammar-rae optimize ... --plots`.",
                        "",
                        *rows,
                    ]
                )
                + "\n"
            ).encode()
        ),
    )
    series = {label: scores[label] for label in results}
    figure = comparison_curves(
        series, objective.maximize, objective.name, root / f"comparison-{name}.png", by="settings"
    )
    return [table, figure]


def _comparison_row(label: str, frame: pd.DataFrame, shared: Sequence[int], objective: Objective, below: str) -> str:
    """One row of the comparison table from one method's rows of a ``proposals.csv``."""
    stats = seed_statistics(frame, objective)
    by_iteration = stats["by_iteration"]
    return (
        " | ".join(
            [
                f"| {label}",
                _seed_text(stats["seeds"]),
                mean_sem_text(stats["fraction_valid"], 2),
                mean_sem_text(stats["average_score"]),
                mean_sem_text(mean_sem([stats["averages"].get(seed, np.nan) for seed in shared])),
                mean_sem_text(stats["best"]),
                mean_sem_text(stats["top"]),
                "n/a" if stats["best_overall"] is None else f"{stats['best_overall']:.3f}",
                below,
                ", ".join(f"{v:.2f}" for v in by_iteration["fraction_valid"]) or "–",
                ", ".join(f"{v:.2f}" for v in by_iteration["average_score"]) or "–",
            ]
        )
        + " |"
    )


def seed_statistics(frame: pd.DataFrame, objective: Objective, top: int = 3) -> dict:
    """Per-seed figures of one method's proposals (rows of a ``proposals.csv``): fraction valid,
    average valid score, best score and mean of the ``top`` best distinct strings (each canonical
    form once), each as mean ± sem over seeds; the best overall; and, where the rows carry BO
    iterations, the fraction valid and average by iteration (means over seeds)."""
    canonical = domain_of(objective.grammar).canonical
    better = max if objective.maximize else min
    frame = frame.assign(valid=frame["valid"].astype(bool))
    fractions, averages, best, tops = {}, {}, {}, {}
    for seed, rows in frame.groupby("seed"):
        seed = int(seed)
        valid = rows[rows["valid"]]
        fractions[seed] = len(valid) / len(rows)
        averages[seed] = float(valid["score"].mean()) if len(valid) else np.nan
        distinct: dict[str, float] = {}
        for string, score in zip(valid["string"], valid["score"]):
            key = canonical(string) or string
            distinct[key] = better(distinct.get(key, score), score)
        ranked = sorted(distinct.values(), reverse=objective.maximize)[:top]
        best[seed] = ranked[0] if ranked else np.nan
        tops[seed] = float(np.mean(ranked)) if ranked else np.nan
    by_iteration = {"fraction_valid": [], "average_score": []}
    for _, rows in frame.dropna(subset=["iteration"]).groupby("iteration"):
        by_iteration["fraction_valid"].append(float(rows.groupby("seed")["valid"].mean().mean()))
        by_iteration["average_score"].append(float(rows[rows["valid"]].groupby("seed")["score"].mean().mean()))
    finite = [v for v in best.values() if np.isfinite(v)]
    return {
        "seeds": sorted(fractions),
        "fraction_valid": mean_sem(list(fractions.values())),
        "average_score": mean_sem(list(averages.values())),
        "averages": averages,
        "best": mean_sem(list(best.values())),
        "top": mean_sem(list(tops.values())),
        "best_overall": better(finite) if finite else None,
        "by_iteration": by_iteration,
    }


def _recorded_floors(folders) -> dict[float, float]:
    """The log-density floor of each quantile, as the runs that recorded it found it (the same
    for every run of one model: the GMM and the training codes fix it)."""
    floors = {}
    for folder in folders:
        recorded = [record for record in seed_records(folder).values() if record.density_floor is not None]
        if recorded:
            floors[recorded[0].full_settings["density_floor"]] = recorded[0].density_floor
    return floors


def _share_below(model: TrainedModel, folder: Path, floor: float | None) -> dict | None:
    """For seeds run before log-densities were recorded: the share of their proposals whose
    latent point lies below ``floor`` under the run's ex-post GMM (mean ± sem over seeds)."""
    if floor is None:
        return None
    density, _ = run_density(model, "gmm")
    shares = []
    for record in seed_records(folder).values():
        z = np.array([p.z for p in record.proposals])
        shares.append(float(np.mean(below_floor(density.score_samples(z), floor))) if len(z) else np.nan)
    return mean_sem(shares)


def _seed_text(seeds: Sequence[int]) -> str:
    seeds = sorted(seeds)
    return (
        f"{seeds[0]}–{seeds[-1]}"
        if seeds and seeds == list(range(seeds[0], seeds[-1] + 1))
        else ", ".join(map(str, seeds))
    )


def mean_sem_text(stats: dict | None, digits: int = 3) -> str:
    """``mean ± sem`` of a summary entry, ``n/a`` where there is none, the mean alone (marked) from one seed."""
    if not stats or stats["mean"] is None:
        return "n/a"
    if stats["sem"] is None:
        return f"{stats['mean']:.{digits}f} (one seed)"
    return f"{stats['mean']:.{digits}f} ± {stats['sem']:.{digits}f}"
