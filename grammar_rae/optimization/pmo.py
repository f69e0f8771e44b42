"""The PMO benchmark (Gao et al., NeurIPS 2022): each task optimised under a budget of oracle calls.

Every call counts (``objectives.oracle``), including the points the surrogate starts from, so the
start is ``initial`` points drawn from the model's ex-post density and decoded greedily, never
the training set's scores. Two methods share the loop:

- ``bo``: each iteration refits the sparse GP (warm after the first) on the latent codes of every
  molecule called so far, draws ``candidates`` points, a ``local`` share of them near the codes
  of the ``top`` best molecules so far and the rest from the ex-post GMM, and decodes greedily the
  ``batch`` of them with the highest expected improvement, an ``explore`` share of the batch
  among the density draws alone (without it, once the best molecules' neighbours decode to
  molecules already called, iterations bring almost nothing new). Choosing among such draws keeps the
  search where the decoder has seen data or has already found good molecules, and costs one GP
  prediction per candidate, which is what a budget of 10,000 calls needs (a batch-EI search per
  iteration would not fit). The local share is what the similarity tasks need: a density draw
  rarely lands near the one molecule they reward (docs/optimization.md has the measurement).
- ``random``: ``batch`` density draws per iteration, decoded greedily (the random-GMM baseline).

A task and seed stop when the budget is spent or when ``patience`` iterations in a row bring no new
molecule. After every iteration ``seed-S.csv.gz`` (call, iteration, smiles, score: PMO's calls.csv,
compressed, as 10,000 calls take 0.6 MB) is rewritten atomically, with the surrogate's state
(``gp-seed-S.pt``); ``--resume`` restores the oracle, the iteration and the surrogate, and since
every draw is seeded by seed and iteration, a resumed run makes the same calls as an uninterrupted one.
"""

from __future__ import annotations

import gzip
import heapq
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm

from grammar_rae.errors import GrammarRAEError
from grammar_rae.evaluation.plots import top_k_curves
from grammar_rae.files import save_json, write_atomic
from grammar_rae.generation.density import LatentDensity
from grammar_rae.generation.sampling import run_density
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.objectives.oracle import Oracle, top_auc
from grammar_rae.objectives.registry import PMO_TASKS, get_objective
from grammar_rae.optimization.report import mean_sem, mean_sem_text
from grammar_rae.optimization.surrogate import SparseGP, SurrogateSettings
from grammar_rae.progress import progress_bar
from grammar_rae.resources import shipped

logger = logging.getLogger(__name__)

TASKS = tuple(sorted((*PMO_TASKS, "qed")))
METHODS = ("bo", "random")
METHOD_NAMES = {"bo": "grammar-rae BO", "random": "random GMM"}
REFERENCES_FILE = "pmo_references.json"
TABLE = "table.md"
# settings added since the first runs, with the values those runs had; those the random baseline does not use
ADDED = {"local": 0.0, "radius": 0.3, "explore": 0.0}
BO_ONLY = ("candidates", "local", "radius", "explore")


@dataclass(frozen=True)
class PMOSettings:
    """The budget and how it is spent."""

    budget: int = 10_000
    method: str = "bo"
    initial: int = 100  # density draws the surrogate starts from (calls, like every other)
    batch: int = 200  # points decoded per iteration
    candidates: int = 5_000  # points the batch is chosen from (bo)
    local: float = 0.5  # share of the candidates drawn near the best molecules so far (bo)
    radius: float = 0.3  # their spread, in units of each latent coordinate's spread over the calls
    explore: float = 0.2  # share of the batch chosen among the density draws alone (bo)
    patience: int = 5  # iterations in a row without a new molecule before a run stops
    top: int = 10
    log_every: int = 100

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise GrammarRAEError(f"The budget is a number of oracle calls, at least 1, not {self.budget}.")
        if self.method not in METHODS:
            raise GrammarRAEError(f"Unknown method {self.method!r}: use one of {', '.join(METHODS)}.")
        if not (0.0 <= self.local <= 1.0 and 0.0 <= self.explore <= 1.0 and 0.0 < self.radius < float("inf")):
            raise GrammarRAEError(
                f"The local and explore shares are between 0 and 1 and the radius above 0, not {self.local}, "
                f"{self.explore} and {self.radius}."
            )

    @property
    def near(self) -> int:
        """How many of the candidates are drawn near the best molecules (the first ones are density draws)."""
        return round(self.candidates * self.local)


def check_tasks(text: str) -> list[str]:
    """``all`` or a comma list of PMO task names, each checked."""
    names = list(TASKS) if text == "all" else [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in TASKS]
    if unknown or not names:
        raise GrammarRAEError(
            f"Unknown PMO task {', '.join(unknown) or repr(text)}: use all or names from {', '.join(TASKS)}."
        )
    return names


class TaskRun:
    """One task and seed of the benchmark, resumable after every iteration."""

    def __init__(self, model: TrainedModel, task: str, seed: int, settings: PMOSettings, folder: Path):
        self.model, self.task, self.seed, self.settings = model, task, seed, settings
        self.folder = Path(folder) / settings.method / task
        self.path = self.folder / f"seed-{seed}.csv.gz"
        self.record = self.folder / f"seed-{seed}.json"
        self.gp_path = self.folder / f"gp-seed-{seed}.pt"
        self.oracle = Oracle(get_objective(task), settings.budget)
        self.iteration, self.stale, self.codes = 0, 0, np.empty((0, model.latent_dim), dtype=np.float32)
        self.iterations: list[int] = []  # the iteration of each call
        if self.path.exists():
            calls = pd.read_csv(self.path, keep_default_na=False)
            self.oracle.restore(list(zip(calls["smiles"], calls["score"])))
            self.iterations = calls["iteration"].astype(int).tolist()
            state = json.loads(self.record.read_text())
            self.iteration, self.stale = state["iterations"], state["stale"]

    @property
    def done(self) -> bool:
        """Whether the budget is spent or the run stopped for want of new molecules."""
        return self.oracle.spent or self.stale >= self.settings.patience

    def _encode(self, smiles: list[str]) -> np.ndarray:
        return self.model.encode(smiles)[0] if smiles else np.empty((0, self.model.latent_dim), dtype=np.float32)

    def run(self) -> dict:
        """Run to the budget (or the patience) under a progress bar of calls with the best score and
        the top-k mean so far (a line per iteration at DEBUG, ``-v``); returns the summary."""
        if self.done:
            return self.summary()
        if len(self.codes) < self.oracle.calls:  # resumed: the codes of the molecules called before
            self.codes = self._encode(list(self.oracle.scores))
        density, _ = run_density(self.model, "gmm")
        gp = self._saved_gp()
        started = time.process_time()
        bar = progress_bar(
            total=self.settings.budget, initial=self.oracle.calls, desc=f"{self.task}, seed {self.seed}", unit=" calls"
        )
        with bar:  # the surrogate's fits and the encodings inside draw no bars of their own
            while not self.done:
                self.iteration += 1
                step = self.seed * 1_000_003 + self.iteration
                if self.iteration == 1 or self.settings.method == "random":
                    points = density.sample(
                        self.settings.initial if self.iteration == 1 else self.settings.batch, seed=step
                    )
                else:
                    gp = self._fit(gp)
                    points = self._choose(gp, self._candidates(density, step))
                before = self.oracle.calls
                self.oracle(self.model.decode(points, "argmax"))
                new = list(self.oracle.scores)[before:]
                self.iterations += [self.iteration] * len(new)
                self.codes = np.concatenate([self.codes, self._encode(new)])
                self.stale = 0 if new else self.stale + 1
                self._save(time.process_time() - started, gp)
                started = time.process_time()
                scores = list(self.oracle.scores.values())
                top = np.mean(sorted(scores)[-self.settings.top :])
                bar.update(self.oracle.calls - before)
                bar.set_postfix(best=f"{max(scores):.3f}", top=f"{top:.3f}", refresh=False)
                logger.debug(
                    f"{self.task}, seed {self.seed}, iteration {self.iteration}: {self.oracle.calls:,}/"
                    f"{self.settings.budget:,} calls, best {max(scores):.3f}, top-{self.settings.top} mean {top:.3f}"
                )
        return self.summary()

    def _training_data(self) -> tuple[np.ndarray, np.ndarray]:
        """Codes and scores of the molecules called so far (a molecule whose canonical SMILES the
        grammar cannot read has no code and is left out)."""
        known = np.isfinite(self.codes).all(axis=1)
        return self.codes[known], np.array(list(self.oracle.scores.values()))[known]

    def _saved_gp(self) -> SparseGP | None:
        if not self.gp_path.exists():
            return None
        state = torch.load(self.gp_path, weights_only=True)
        settings = SurrogateSettings(inducing=int(state.pop("inducing")))
        return SparseGP(self.codes.shape[1], settings, self.seed).load_state_dict(state, *self._training_data())

    def _fit(self, gp: SparseGP | None) -> SparseGP:
        """The surrogate refitted on every molecule called so far (warm once it has its 500 inducing points)."""
        x, y = self._training_data()
        settings = SurrogateSettings(inducing=min(500, len(y)))
        if gp is None or gp.settings.inducing != settings.inducing:
            return SparseGP(x.shape[1], settings, self.seed).fit(x, y)
        return gp.fit(x, y, warm=True)

    def _candidates(self, density: LatentDensity, step: int) -> np.ndarray:
        """Density draws and, for the ``local`` share, the codes of the ``top`` best molecules so far
        each moved by Gaussian noise of ``radius`` times each coordinate's spread over the calls."""
        near = self.settings.near
        draws = density.sample(self.settings.candidates - near, seed=step)
        if near == 0:
            return draws
        codes, scores = self._training_data()
        best = codes[np.argsort(-scores, kind="stable")[: self.settings.top]]
        rng = np.random.default_rng([step, 1])  # apart from the density's draws
        centres = best[rng.integers(len(best), size=near)]
        noise = rng.standard_normal(centres.shape) * self.settings.radius * codes.std(axis=0, ddof=1)
        return np.concatenate([draws, (centres + noise).astype(draws.dtype)])

    def _choose(self, gp: SparseGP, candidates: np.ndarray) -> np.ndarray:
        """The ``batch`` candidates of highest expected improvement over the best score so far, an
        ``explore`` share of them among the density draws (the first rows) alone."""
        mean, variance = gp.predict(candidates)
        sd = np.sqrt(np.maximum(variance, 1e-12))
        z = (mean - max(self.oracle.scores.values())) / sd
        order = np.argsort(-sd * (z * norm.cdf(z) + norm.pdf(z)), kind="stable")
        draws = self.settings.candidates - self.settings.near
        explored = order[order < draws][: round(self.settings.batch * self.settings.explore)]
        rest = order[~np.isin(order, explored)][: self.settings.batch - len(explored)]
        return candidates[np.concatenate([explored, rest])]

    def _save(self, cpu_seconds: float, gp: SparseGP | None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.done:
            self.gp_path.unlink(missing_ok=True)  # only a run that goes on needs its surrogate's state
        elif gp is not None:
            write_atomic(
                self.gp_path, lambda out: torch.save(gp.state_dict() | {"inducing": gp.settings.inducing}, out)
            )
        frame = pd.DataFrame(
            {
                "call": np.arange(1, self.oracle.calls + 1),
                "iteration": self.iterations,
                "smiles": list(self.oracle.scores),
                "score": list(self.oracle.scores.values()),
            }
        )
        write_atomic(self.path, lambda out: out.write(gzip.compress(frame.to_csv(index=False).encode(), mtime=0)))
        previous = json.loads(self.record.read_text()) if self.record.exists() else {}
        save_json(
            self.record,
            {
                "iterations": self.iteration,
                "stale": self.stale,
                "cpu_seconds": round(previous.get("cpu_seconds", 0.0) + cpu_seconds, 1),
                "settings": asdict(self.settings),
                "model": self.model.weights_id,
                **self.summary(),
            },
        )

    def summary(self) -> dict:
        """AUC top-k, best and top-k mean, and calls of this task and seed."""
        scores, top = list(self.oracle.scores.values()), self.settings.top
        return {
            "task": self.task,
            "seed": self.seed,
            "calls": len(scores),
            f"auc_top{top}": top_auc(scores, self.settings.budget, top, self.settings.log_every),
            "best": max(scores, default=0.0),
            f"top{top}_mean": float(np.mean(sorted(scores)[-top:])) if scores else 0.0,
            "finished": "budget" if self.oracle.spent else "no new molecules" if self.done else "interrupted",
        }


def run_benchmark(
    model: TrainedModel,
    tasks: list[str],
    seeds: list[int],
    settings: PMOSettings,
    folder: Path,
    resume: bool = False,
) -> dict:
    """Every task and seed, then the summary, saved as ``<folder>/<method>/summary.json``: per
    task the AUC top-k of each seed, their mean and standard error.

    Args:
        model: the molecule model searched in.
        tasks: PMO task names.
        seeds: the seeds of each task.
        settings: budget, method and batch sizes.
        folder: where each task and seed keeps its calls and summary.
        resume: continue task-seeds that have results instead of refusing.
    """
    folder = Path(folder)
    started = [
        p for task in tasks for seed in seeds if (p := folder / settings.method / task / f"seed-{seed}.csv.gz").exists()
    ]
    if started and not resume:
        raise GrammarRAEError(
            f"{folder / settings.method} already holds PMO runs ({len(started)} task-seeds): pass --resume "
            "to continue them, or choose another --out."
        )
    check_same_model(model, folder)
    for task in tasks:
        for seed in seeds:
            run = TaskRun(model, task, seed, settings, folder)
            if run.path.exists():
                saved, wanted = ADDED | json.loads(run.record.read_text())["settings"], asdict(settings)
                if settings.method == "random":
                    saved, wanted = ({k: v for k, v in d.items() if k not in BO_ONLY} for d in (saved, wanted))
                if saved != wanted:
                    raise GrammarRAEError(f"{run.path} was made with other settings: use the same ones to resume it.")
            run.run()
    result = summarise(model, tasks, seeds, settings, folder)
    write_table(folder)
    return result


def check_same_model(model: TrainedModel, folder: Path) -> None:
    """Refuse to add runs of ``model`` to a folder whose runs (of any method) another model made, so
    that one table never mixes models (records from before the model was recorded name none)."""
    mine = model.weights_id  # a digest of every weight: once, not per record
    others = {
        saved
        for record in Path(folder).glob("*/*/seed-*.json")
        if (saved := json.loads(record.read_text()).get("model")) not in (None, mine)
    }
    if others:
        raise GrammarRAEError(
            f"{folder} holds PMO runs of another model (weights {', '.join(sorted(others))}; {model.folder} has "
            f"{mine}): give that model to add to them, or choose another --out."
        )


def top_curve(scores: list[float], top: int) -> np.ndarray:
    """The mean of the best ``top`` scores after each call (of those made so far, when fewer)."""
    best: list[float] = []
    curve = np.empty(len(scores))
    for i, score in enumerate(scores):
        heapq.heappush(best, score)
        if len(best) > top:
            heapq.heappop(best)
        curve[i] = sum(best) / len(best)
    return curve


def top_curves_figure(tasks: list[str], seeds: list[int], folder: Path, top: int = 10) -> Path:
    """``<folder>/top{top}-curves.png``: each task's mean top-k curve against calls, for every method run."""
    curves = {
        task: {
            method: [
                top_curve(pd.read_csv(path)["score"].tolist(), top)
                for seed in seeds
                if (path := Path(folder) / method / task / f"seed-{seed}.csv.gz").exists()
            ]
            for method in METHODS
        }
        for task in tasks
    }
    return top_k_curves(curves, top, Path(folder) / f"top{top}-curves.png")


def summarise(model: TrainedModel, tasks: list[str], seeds: list[int], settings: PMOSettings, folder: Path) -> dict:
    """The per-task AUCs from the seeds' files, and their sum over tasks.

    Args:
        model: the model the runs searched in.
        tasks: PMO task names.
        seeds: the seeds read.
        settings: the settings the runs used.
        folder: the benchmark's folder.
    """
    key = f"auc_top{settings.top}"
    table = {}
    for task in tasks:
        runs = [json.loads((folder / settings.method / task / f"seed-{seed}.json").read_text()) for seed in seeds]
        stats = mean_sem([r[key] for r in runs])
        table[task] = {
            key: stats["mean"],
            "sem": stats["sem"],
            "seeds": [r[key] for r in runs],
            "calls": [r["calls"] for r in runs],
            "cpu_seconds": [r["cpu_seconds"] for r in runs],
        }
    result = {
        "model": f"pretrained:{model.run.name}" if model.run.is_shipped else str(model.folder),
        "weights": model.weights_id,
        "method": settings.method,
        "settings": asdict(settings),
        "seeds": seeds,
        "tasks": table,
        "sum": float(sum(t[key] for t in table.values())),
    }
    save_json(folder / settings.method / "summary.json", result)
    return result


def published() -> dict:
    """PMO's published AUC top-10 per task and method, with their source (``data/pmo_references.json``)."""
    return json.loads((shipped("grammar_rae.datafiles") / REFERENCES_FILE).read_text())


def results_table(folder: Path, tasks: Sequence[str] = TASKS) -> str:
    """AUC top-10 per task as markdown: each method run in ``folder`` (mean ± standard error over its
    seeds, from the sample standard deviation) beside PMO's published figures, and the sums over the
    tasks (ours: mean ± standard error of each seed's sum, where every task has the same seeds)."""
    runs = {m: json.loads(p.read_text()) for m in METHODS if (p := Path(folder) / m / "summary.json").exists()}
    reference = published()
    names = [f"{METHOD_NAMES[m]} (seeds {', '.join(map(str, run['seeds']))})" for m, run in runs.items()]
    rows = [
        "| task | " + " | ".join(names + list(reference["methods"])) + " |",
        "| --- " * (1 + len(names) + len(reference["methods"])) + "|",
    ]
    for task in tasks:
        ours = [mean_sem_text(_task_stats(run, task)) for run in runs.values()]
        theirs = [f"{values[task][0]:.3f}" for values in reference["methods"].values()]
        rows.append(f"| {task} | " + " | ".join(ours + theirs) + " |")
    sums = [_sum_text(run, tasks) for run in runs.values()]
    sums += [f"{sum(values[task][0] for task in tasks):.3f}" for values in reference["methods"].values()]
    rows.append("| **sum** | " + " | ".join(sums) + " |")
    latent = ", ".join(f"{name} {value}" for name, value in reference["sums_over_23_tasks"].items())
    budgets = sorted({run["settings"]["budget"] for run in runs.values()})
    models = sorted({f"`{run['model']}` (weights {run.get('weights', 'not recorded')})" for run in runs.values()})
    return "\n".join(
        [
            f"# PMO: AUC top-10 per task ({len(tasks)} RDKit-only tasks, "
            f"{' / '.join(f'{b:,}' for b in budgets) or 'no'} oracle calls per run)",
            "",
            *rows,
            "",
            f"Published figures: {reference['source']} Latent-space BO in PMO, sums over all 23 tasks: {latent}.",
            "",
            "Written by `grammar-rae benchmark pmo` from the `summary.json` of each method in this folder; "
            "a method's sum is given where every task has run with the same seeds. "
            f"Searched in {' and '.join(models) or 'no model'}.",
            "",
        ]
    )


def write_table(folder: Path) -> Path:
    """``<folder>/table.md``: :func:`results_table` of the methods run there."""
    path = Path(folder) / TABLE
    write_atomic(path, lambda out: out.write(results_table(folder).encode()))
    return path


def _task_stats(run: dict, task: str) -> dict | None:
    row = run["tasks"].get(task)
    return None if row is None else {"mean": row[f"auc_top{run['settings']['top']}"], "sem": row["sem"]}


def _sum_text(run: dict, tasks: Sequence[str]) -> str:
    """The mean ± standard error over seeds of each seed's sum over ``tasks``; ``–`` with the count
    of tasks run where some task has not run with the run's seeds."""
    rows = [run["tasks"].get(task) for task in tasks]
    if any(row is None or len(row["seeds"]) != len(run["seeds"]) for row in rows):
        return f"– ({sum(row is not None for row in rows)} of {len(tasks)} tasks)"
    return mean_sem_text(mean_sem([sum(values) for values in zip(*(row["seeds"] for row in rows))]))
