"""The latent Bayesian-optimisation protocol (protocol section 9) and its random-sampling baseline.

Per seed: split the starting points 90/10 at random (the 10% measure the surrogate), then for each
iteration refit the sparse GP on the 90% plus everything proposed so far, choose a batch of
points by greedy batch EI inside the bounding box of the training codes, decode each point
(the most frequent valid string of K stochastic decodes: 500 for molecules, 25 for expressions)
and score it; an undecodable or invalid point is recorded with the objective's worst score.
Each seed's proposals, scores, surrogate metrics and GP state are saved after every iteration
(``seed-S.json``, ``gp-seed-S.pt``), so an interrupted run resumes at the next iteration with
nothing lost. The random baseline draws the same number of points from the run's ex-post density.

The starting points are the protocol's, the codes of every training molecule with its score, or
(``BOSettings.start``) a random ``initial`` of those, or ``initial`` points drawn from the ex-post
density and decoded greedily, as ``sample`` does; the last needs no training data, so any
objective runs offline on a shipped model. Objective calls are counted per seed, as PMO counts them.
:func:`optimize` runs the seeds and the baseline and writes the summary (``optimization.report``);
the records' shape is in ``optimization.records``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from grammar_rae.data.validity import valid_mask
from grammar_rae.errors import GrammarRAEError
from grammar_rae.files import save_json, write_atomic
from grammar_rae.generation.sampling import decode_points, run_density, sample
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.objectives.registry import Objective
from grammar_rae.optimization.acquisition import bounding_box, select_batch
from grammar_rae.optimization.data_region import DataRegion, below_floor
from grammar_rae.optimization.records import Iteration, Proposal, RandomRecord, SeedRecord, objective_folder
from grammar_rae.optimization.report import write_summary
from grammar_rae.optimization.settings import BOSettings
from grammar_rae.optimization.surrogate import SparseGP
from grammar_rae.progress import progress_bar

logger = logging.getLogger(__name__)


def environment(device: str) -> dict:
    """What a seed's numbers depend on besides its settings and data: the thread count (it changes
    the order of floating-point sums, and a few steps of BO turn that into other proposals), the
    library versions and the decoder's device (the GP runs on the CPU)."""
    import botorch
    import gpytorch

    return {
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gpytorch": gpytorch.__version__,
        "botorch": botorch.__version__,
        "device": device,
    }


def training_targets(model: TrainedModel, objective: Objective, chunk: int = 5000) -> np.ndarray:
    """The objective on every training string, cached as ``targets.npy`` next to the seeds (a
    shipped model may carry them in the same place of its own folder), with ``targets.json``
    naming the objective's version: targets of an older definition are recomputed."""
    path = objective_folder(model, objective) / "targets.npy"
    rows = len(model.data.rows("train"))
    for cached_path in model.run.stored(path):
        if cached_path.exists() and _targets_version(cached_path) == objective.version:
            cached = np.load(cached_path, allow_pickle=False)
            if len(cached) == rows:
                return cached
    strings = model.data.strings("train")
    with progress_bar(total=len(strings), desc=f"scoring the training set ({objective.name})", unit=" strings") as bar:
        parts = []
        for start in range(0, len(strings), chunk):
            parts.append(objective(strings[start : start + chunk]))
            bar.update(len(parts[-1]))
    values = np.concatenate(parts) if parts else np.empty(0)
    write_atomic(path, lambda out: np.save(out, values))
    save_json(path.with_suffix(".json"), {"objective": objective.name, "version": objective.version, "rows": rows})
    return values


def _targets_version(path: Path) -> str:
    sidecar = path.with_suffix(".json")
    return json.loads(sidecar.read_text()).get("version", "") if sidecar.exists() else ""


class TrainingStart:
    """The protocol's start, shared by every seed of a run: the code and score of every training
    string and the data region around those codes, each found once, when a seed first needs it."""

    def __init__(self, model: TrainedModel, objective: Objective, density_floor: float):
        self.model, self.objective, self.density_floor = model, objective, density_floor

    @cached_property
    def targets(self) -> np.ndarray:
        """The objective on every training string."""
        return training_targets(self.model, self.objective)

    @cached_property
    def codes(self) -> np.ndarray:
        """Every training string's code."""
        return self.model.codes("train")

    @cached_property
    def region(self) -> DataRegion:
        """The ex-post GMM's region above the density floor around the training codes."""
        return DataRegion.of(run_density(self.model, "gmm")[0], self.codes, self.density_floor)


class SeedRun:
    """One seed of the BO loop, resumable after every iteration."""

    def __init__(
        self,
        model: TrainedModel,
        objective: Objective,
        settings: BOSettings,
        seed: int,
        shared: TrainingStart | None = None,
    ):
        """``shared``: the protocol's start that several seeds share (made here when not given)."""
        self.model, self.objective, self.settings, self.seed = model, objective, settings, seed
        self.folder = objective_folder(model, objective, settings)
        self.path = self.folder / f"seed-{seed}.json"
        self.gp_path = self.folder / f"gp-seed-{seed}.pt"
        self.sign = 1.0 if objective.maximize else -1.0  # the GP always maximises
        self.shared = None
        if settings.initial is None:
            self.shared = shared or TrainingStart(model, objective, settings.density_floor)
        self.record = self._load()

    def _load(self) -> SeedRecord:
        fresh = SeedRecord(self.seed, self.objective.name, self.settings.record(self.model.grammar.name))
        if not self.path.exists():
            return fresh
        record = SeedRecord.load(self.path)
        same = {k: v for k, v in record.full_settings.items() if k != "iterations"}
        if same != {k: v for k, v in fresh.settings.items() if k != "iterations"}:
            raise GrammarRAEError(
                f"{self.path} was made with other BO settings: use the same settings to resume it, or remove it."
            )
        record.settings = fresh.settings  # the number of iterations may grow
        return record

    @cached_property
    def codes(self) -> np.ndarray:
        """The starting codes, encoded only when an iteration is left to run."""
        if self.shared is not None:
            return self.shared.codes
        if self.settings.start == "density":
            return np.array([p.z for p in self.design], dtype=np.float32)
        data = self.model.data
        return self.model.encode_indices(
            data.sequences.indices, data.rows("train")[self._training_rows], False, None, 1000
        )

    @cached_property
    def targets(self) -> np.ndarray:
        """The objective on the starting points."""
        if self.shared is not None:
            return self.shared.targets
        return np.array([p.score for p in self.design], dtype=np.float64)

    @cached_property
    def _training_rows(self) -> np.ndarray:
        """The positions in the training split of a training start of ``initial`` molecules."""
        rows = len(self.model.data.rows("train"))
        return np.sort(
            np.random.default_rng([self.seed, 1]).choice(rows, min(self.settings.initial, rows), replace=False)
        )

    @cached_property
    def design(self) -> list[Proposal]:
        """The scored points of an ``initial``-point start: training molecules at random, or points
        drawn from the ex-post GMM and decoded greedily; scored once and kept in the seed's file, so a
        resumed seed calls the objective no more."""
        if self.record.design is None:
            if self.settings.start == "density":
                drawn = sample(self.model, self.settings.initial, "gmm", "argmax", seed=20_000 + self.seed)
                points, strings = [[round(float(v), 6) for v in z] for z in drawn.z], drawn.strings
            else:
                train = self.model.data.strings("train")
                strings = [train[i] for i in self._training_rows]
                points = [None] * len(strings)
            valid = valid_mask(self.model.grammar.name, strings)
            scores = np.where(valid, self.objective(strings), self.objective.worst)
            self.record.design = [
                Proposal(s, bool(ok), float(score), z) for z, s, ok, score in zip(points, strings, valid, scores)
            ]
            self.record.save(self.path)
        return self.record.design

    @cached_property
    def _split(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.random.default_rng(self.seed).permutation(len(self.targets))
        held = max(1, int(round(self.settings.holdout * len(order))))
        return order[:held], order[held:]

    @property
    def test_rows(self) -> np.ndarray:
        """Starting points held out to measure the surrogate."""
        return self._split[0]

    @property
    def fit_rows(self) -> np.ndarray:
        """Starting points the surrogate is fitted on."""
        return self._split[1]

    @cached_property
    def region(self) -> DataRegion:
        """The ex-post GMM's region above the density floor (constrains the density-aware
        acquisitions; for every acquisition, says which proposals fell outside)."""
        if self.shared is not None:
            return self.shared.region
        density, _ = run_density(self.model, "gmm")
        return DataRegion.of(density, self.codes, self.settings.density_floor)

    @property
    def done(self) -> bool:
        """Whether every iteration has finished."""
        return len(self.record.iterations) >= self.settings.iterations

    def _observed(self) -> tuple[np.ndarray, np.ndarray]:
        proposals = self.record.proposals
        x = np.array([p.z for p in proposals], dtype=np.float32).reshape(-1, self.codes.shape[1])
        y = np.array([p.score for p in proposals], dtype=np.float64)
        return x, y

    def run(self) -> SeedRecord:
        """Run the remaining iterations, logging a line per iteration (INFO); returns the seed's record."""
        if self.done:
            return self.record
        gp = SparseGP(self.codes.shape[1], self.settings.surrogate, self.seed)
        fitted_for = 0  # the iteration whose surrogate is already fitted (saved before an interruption)
        if self.gp_path.exists():
            saved = torch.load(self.gp_path, weights_only=True)
            fitted_for = int(saved.pop("fitted_for", len(self.record.iterations)))
            if fitted_for:
                gp.load_state_dict(saved, *self._fit_data(*self._observed()))
        bounds = bounding_box(self.codes)
        if self.settings.acquisition != "ei":  # a region the search cannot start in is refused before the fit
            logger.info("seed %d, %s", self.seed, self.region.describe())
            self.region.draw(
                1000, torch.as_tensor(bounds, dtype=torch.float64), torch.Generator().manual_seed(self.seed)
            )
        attempts = self.settings.attempts_for(self.model.grammar.name)
        while not self.done:
            iteration = len(self.record.iterations) + 1
            started = time.perf_counter()
            x_seen, y_seen = self._observed()
            x_fit, y_fit = self._fit_data(x_seen, y_seen)
            if fitted_for != iteration:
                gp.fit(x_fit, y_fit, warm=gp.model is not None)
                self._save_gp(gp, iteration)  # an interruption from here on keeps the fit
            metrics = gp.metrics(self.codes[self.test_rows], self.sign * self.targets[self.test_rows])
            fitted = time.perf_counter()
            z = select_batch(
                gp,
                bounds,
                self.settings.batch,
                float(y_fit.max()),
                seed=self.seed * 100 + iteration,
                search=self.settings.search,
                restarts=self.settings.restarts,
                raw_samples=self.settings.raw_samples,
                acquisition=self.settings.acquisition,
                region=self.region,
            )
            selected = time.perf_counter()
            with torch.no_grad():
                log_density = self.region.log_density(torch.as_tensor(z, dtype=torch.float64)).numpy()
            strings = decode_points(self.model, z, self.settings.decode, attempts, seed=self.seed * 100 + iteration)
            valid = valid_mask(self.model.grammar.name, strings)
            scores = np.where(valid, self.objective(strings), self.objective.worst)
            self.record.iterations.append(
                Iteration(
                    iteration,
                    surrogate={
                        "rmse": metrics.rmse,
                        "log_likelihood": metrics.log_likelihood,
                        "n": metrics.n,
                        "sign": self.sign,
                    },
                    seconds={
                        "fit": round(fitted - started, 1),
                        "select": round(selected - fitted, 1),
                        "decode_and_score": round(time.perf_counter() - selected, 1),
                    },
                    environment=environment(str(self.model.device)),
                    density_floor=round(self.region.floor, 6),
                    proposals=[
                        Proposal(s, bool(ok), float(score), [round(float(v), 6) for v in point], round(float(d), 4))
                        for point, s, ok, score, d in zip(z, strings, valid, scores, log_density)
                    ],
                )
            )
            self.record.objective_calls = {"start": len(self.targets), "proposals": len(self.record.proposals)}
            self.record.save(self.path)
            seen = self.record.proposals
            logger.info(
                f"seed {self.seed}, iteration {iteration}: {int(valid.sum())}/{len(valid)} valid, "
                f"best of this batch {self._best_text(scores, valid)}, best so far "
                f"{self._best_text(np.array([p.score for p in seen]), np.array([p.valid for p in seen]))}, "
                f"surrogate RMSE {metrics.rmse:.3f}, {int((~below_floor(log_density, self.region.floor)).sum())}/{len(z)} "
                "in the data region"
            )
        return self.record

    def _save_gp(self, gp: SparseGP, iteration: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(self.gp_path, lambda out: torch.save(gp.state_dict() | {"fitted_for": iteration}, out))

    def _fit_data(self, x_seen: np.ndarray, y_seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([self.codes[self.fit_rows], x_seen])
        y = np.concatenate([self.sign * self.targets[self.fit_rows], self.sign * y_seen])
        return x, y

    def _best_text(self, scores: np.ndarray, valid: np.ndarray) -> str:
        if not valid.any():
            return "none valid"
        pick = np.max if self.objective.maximize else np.min
        return f"{pick(scores[valid]):.3f}"


def random_baseline(
    model: TrainedModel,
    objective: Objective,
    settings: BOSettings,
    seed: int,
    density: str = "gmm",
) -> RandomRecord:
    """The same budget (iterations × batch points) drawn from the run's ex-post density.

    Args:
        model: the trained model.
        objective: what the points' strings are scored with.
        settings: the BO settings whose budget and decodes the baseline matches.
        seed: the random seed.
        density: the density drawn from.
    """
    path = objective_folder(model, objective, settings) / f"random-seed-{seed}.json"
    points, attempts = settings.iterations * settings.batch, settings.attempts_for(model.grammar.name)
    if path.exists():
        saved = RandomRecord.load(path)
        if (saved.density, len(saved.proposals), saved.attempts) == (density, points, attempts):
            return saved
    dens, _ = run_density(model, density)
    z = dens.sample(points, seed=10_000 + seed)
    strings = decode_points(model, z, settings.decode, attempts, seed=10_000 + seed)
    valid = valid_mask(model.grammar.name, strings)
    scores = np.where(valid, objective(strings), objective.worst)
    record = RandomRecord(
        seed, density, attempts, [Proposal(s, bool(ok), float(score)) for s, ok, score in zip(strings, valid, scores)]
    )
    record.save(path)
    return record


def optimize(
    model: TrainedModel,
    objective: Objective,
    seeds: Sequence[int] = tuple(range(1, 11)),
    settings: BOSettings | None = None,
    baseline: bool = True,
    extra: Sequence[Objective] = (),
) -> dict:
    """Run (or resume) every seed, then the random baseline; save and return the summary. Each
    iteration is logged (``logging``, INFO).

    Args:
        model: the trained model searched in.
        objective: what is optimised.
        seeds: the BO seeds.
        settings: the BO settings (default: a start from the ex-post density).
        baseline: run the random-sampling baseline too.
        extra: objectives also reported for the top strings (e.g. raw penalized logP).
    """
    settings = settings or BOSettings()
    objective.check_grammar(model.grammar.name)
    shared = TrainingStart(model, objective, settings.density_floor) if settings.initial is None else None
    runs = {seed: SeedRun(model, objective, settings, seed, shared).run() for seed in seeds}
    randoms = None
    if baseline:
        logger.info("random baseline: %d points per seed from the ex-post GMM", settings.iterations * settings.batch)
        randoms = {seed: random_baseline(model, objective, settings, seed) for seed in seeds}
    return write_summary(
        objective_folder(model, objective, settings),
        str(model.folder),
        objective,
        settings.record(model.grammar.name),
        runs,
        randoms,
        extra,
    )
