"""What latent BO writes and where: a seed's record (``seed-S.json``: its settings, starting design
and iterations with their proposals), the random baseline's record (``random-seed-S.json``) and the
folders they live in.

The records are dataclasses; ``from_dict`` holds every rule for files written by older versions
(settings keys added since, iterations without an environment or density floor, proposals without a
log-density, seeds without a count of objective calls), so the BO loop and the reports read one
shape, and ``to_dict`` writes a record back as it was read."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grammar_rae.files import save_json
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.objectives.registry import Objective
from grammar_rae.optimization.settings import BOSettings
from grammar_rae.run_folder import RunFolder


class _SeedFile:
    """A seed's record kept as one JSON file (``from_dict`` and ``to_dict`` are the record's own)."""

    seed: int

    @classmethod
    def load(cls, path: Path) -> _SeedFile:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def save(self, path: Path) -> None:
        save_json(path, self.to_dict())

    @classmethod
    def all_in(cls, folder: Path, pattern: str) -> dict[int, _SeedFile]:
        """The records of this kind in ``folder`` whose file names match ``pattern``, by seed."""
        records = [cls.load(path) for path in Path(folder).glob(pattern)]
        return {record.seed: record for record in sorted(records, key=lambda r: r.seed)}


@dataclass
class Proposal:
    """A decoded string and its score; ``z``, the latent point it was decoded from (none for the random
    baseline's draws and for training molecules), and ``log_density``, its log-density under the
    ex-post GMM (recorded since density-aware acquisition)."""

    string: str
    valid: bool
    score: float
    z: list[float] | None = None
    log_density: float | None = None

    @classmethod
    def from_dict(cls, data: dict) -> Proposal:
        return cls(data["string"], data["valid"], data["score"], data.get("z"), data.get("log_density"))

    def to_dict(self) -> dict:
        written = {"z": self.z} if self.z is not None else {}
        written |= {"string": self.string, "valid": self.valid, "score": self.score}
        return written | ({"log_density": self.log_density} if self.log_density is not None else {})


@dataclass
class Iteration:
    """One BO iteration: the surrogate's fit measured on the held-out starting points (``rmse``,
    ``log_likelihood``, ``n``, ``sign``), seconds per stage, the environment, the density floor in
    force, and the batch proposed."""

    iteration: int
    surrogate: dict
    seconds: dict
    proposals: list[Proposal]
    environment: dict | None = None  # recorded since the thread count was found to matter
    density_floor: float | None = None  # recorded since density-aware acquisition

    @classmethod
    def from_dict(cls, data: dict) -> Iteration:
        return cls(
            data["iteration"],
            data["surrogate"],
            data["seconds"],
            [Proposal.from_dict(p) for p in data["proposals"]],
            data.get("environment"),
            data.get("density_floor"),
        )

    def to_dict(self) -> dict:
        written = {"iteration": self.iteration, "surrogate": self.surrogate, "seconds": self.seconds}
        if self.environment is not None:
            written["environment"] = self.environment
        if self.density_floor is not None:
            written["density_floor"] = self.density_floor
        return written | {"proposals": [p.to_dict() for p in self.proposals]}


@dataclass
class SeedRecord(_SeedFile):
    """One BO seed: its settings as saved, its scored starting design (starts of ``initial`` points),
    its iterations and its objective calls (start and proposals, PMO's count)."""

    seed: int
    objective: str
    settings: dict
    iterations: list[Iteration] = field(default_factory=list)
    design: list[Proposal] | None = None
    objective_calls: dict | None = None

    @classmethod
    def from_dict(cls, data: dict) -> SeedRecord:
        return cls(
            data["seed"],
            data["objective"],
            data["settings"],
            [Iteration.from_dict(it) for it in data["iterations"]],
            [Proposal.from_dict(p) for p in data["design"]] if "design" in data else None,
            data.get("objective_calls"),
        )

    def to_dict(self) -> dict:
        written = {
            "seed": self.seed,
            "objective": self.objective,
            "settings": self.settings,
            "iterations": [it.to_dict() for it in self.iterations],
        }
        if self.design is not None:  # a training molecule's point is written as null
            written["design"] = [{"z": p.z} | p.to_dict() for p in self.design]
        return written | ({"objective_calls": self.objective_calls} if self.objective_calls is not None else {})

    @property
    def full_settings(self) -> dict:
        """The settings with the protocol's values for keys added after the file was written (older
        seeds ran with those values); the number of decodes per point is always saved."""
        return asdict(BOSettings.from_record(self.settings))

    @property
    def proposals(self) -> list[Proposal]:
        """Every proposal, in the order they were evaluated."""
        return [p for it in self.iterations for p in it.proposals]

    @property
    def density_floor(self) -> float | None:
        """The log-density floor this seed's iterations recorded (None before it was recorded)."""
        return next((it.density_floor for it in self.iterations if it.density_floor is not None), None)


@dataclass
class RandomRecord(_SeedFile):
    """The random baseline of one seed: points drawn from ``density`` and decoded with ``attempts``
    decodes each."""

    seed: int
    density: str | None
    attempts: int | None
    proposals: list[Proposal]

    @classmethod
    def from_dict(cls, data: dict) -> RandomRecord:
        return cls(
            data["seed"], data.get("density"), data.get("attempts"), [Proposal.from_dict(p) for p in data["proposals"]]
        )

    def to_dict(self) -> dict:
        return {
            "seed": self.seed,
            "density": self.density,
            "attempts": self.attempts,
            "proposals": [p.to_dict() for p in self.proposals],
        }


def seed_records(folder: Path) -> dict[int, SeedRecord]:
    """The BO seeds saved in an objective's folder, by seed."""
    return SeedRecord.all_in(folder, "seed-*.json")


def random_records(folder: Path) -> dict[int, RandomRecord]:
    """The random baselines saved in an objective's folder, by seed."""
    return RandomRecord.all_in(folder, "random-seed-*.json")


def objective_folder(model: TrainedModel, objective: Objective, settings: BOSettings | None = None) -> Path:
    """``<run>/optimization/<objective>/`` where the seeds' files of the protocol's settings live,
    or ``<objective>-<tag>/`` for other ``settings`` (see ``BOSettings.tag``)."""
    return optimization_folder(model.folder, objective.name, settings.tag(model.grammar.name) if settings else "")


def optimization_folder(folder: Path, objective_name: str, tag: str = "") -> Path:
    """Where :func:`objective_folder` puts the BO files of the run in ``folder``."""
    name = objective_folder_name(objective_name)
    return RunFolder(folder).optimization(f"{name}-{tag}" if tag else name)


def objective_folder_name(objective: Objective | str) -> str:
    """An objective's name as a folder name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", objective if isinstance(objective, str) else objective.name)
