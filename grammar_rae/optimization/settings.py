"""The settings of a latent BO run (:class:`BOSettings`) and the papers' protocol (:data:`PROTOCOL`).

A seed's file records its settings; a seed resumes only with the same ones, and settings other than
the protocol's get a folder of their own (:meth:`BOSettings.tag`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from grammar_rae.data.domains import domain_of
from grammar_rae.errors import GrammarRAEError
from grammar_rae.optimization.acquisition import ACQUISITIONS
from grammar_rae.optimization.surrogate import SurrogateSettings

STARTS = ("training", "density")
# density draws scored to start from (chosen by measurement: docs/optimization.md, "Where BO starts")
DEFAULT_INITIAL = 100


@dataclass
class BOSettings:
    """BO's knobs. The defaults are the protocol's budget and search, started from ``initial``
    (default 100) points of the model's ex-post density, as ``grammar-rae optimize`` starts
    (offline, any objective); :data:`PROTOCOL` starts from every training string instead, as the
    papers did. ``attempts=None`` takes the language's decodes per point (500 for molecules, 25 for
    expressions)."""

    iterations: int = 5
    batch: int = 50
    attempts: int | None = None
    decode: str = "sample"
    holdout: float = 0.1
    search: str = "greedy"  # or "joint" (see optimization.acquisition)
    restarts: int | None = None  # None: the search's default
    raw_samples: int | None = None
    surrogate: SurrogateSettings = field(default_factory=SurrogateSettings)
    acquisition: str = "ei"  # or a density-aware one (see optimization.acquisition)
    # the quantile (of the starting codes' and the GMM's own log-densities) bounding the data region
    density_floor: float = 0.01
    # where the surrogate starts: "density" draws, or "training" strings (see the module docstring)
    start: str = "density"
    # starting points: N draws or N training strings; None: DEFAULT_INITIAL draws, or every training string
    initial: int | None = None

    def __post_init__(self) -> None:
        if self.acquisition not in ACQUISITIONS:
            raise GrammarRAEError(f"Unknown acquisition '{self.acquisition}': use one of {', '.join(ACQUISITIONS)}.")
        if self.start not in STARTS:
            raise GrammarRAEError(f"Unknown start '{self.start}': use one of {', '.join(STARTS)}.")
        if self.start == "density" and self.initial is None:
            self.initial = DEFAULT_INITIAL
        if self.initial is not None and self.initial < 10:
            raise GrammarRAEError(
                f"BO needs at least 10 starting points (one in ten measures the surrogate), not {self.initial}."
            )
        if not 0.0 <= self.density_floor < 1.0:
            raise GrammarRAEError(
                f"The density floor is a quantile between 0 and 1 (0.01: at least 99% of the training "
                f"codes and of the density's mass lie above it), not {self.density_floor}."
            )

    @classmethod
    def from_record(cls, record: dict) -> BOSettings:
        """The settings a seed or summary saved (see :meth:`record`); keys added since the file was
        written take the protocol's values, with which older runs ran."""
        values = {k: v for k, v in asdict(PROTOCOL).items() if k != "attempts"} | record
        return cls(**values | {"surrogate": SurrogateSettings(**values["surrogate"])})

    def attempts_for(self, grammar_name: str) -> int:
        """Decodes per proposed point."""
        if self.attempts is not None:
            return self.attempts
        return domain_of(grammar_name).bo_decodes

    def record(self, grammar_name: str) -> dict:
        """The settings as saved with every seed (a resumed seed must use the same ones)."""
        return asdict(self) | {"attempts": self.attempts_for(grammar_name)}

    def tag(self, grammar_name: str) -> str:
        """``""`` for the protocol's settings, else a short digest of what differs from them (the
        number of iterations aside: a run may be continued for more), so that BO with other
        settings gets a folder of its own instead of clashing with the protocol's results."""
        protocol = PROTOCOL.record(grammar_name)
        changed = {k: v for k, v in self.record(grammar_name).items() if k != "iterations" and v != protocol[k]}
        return hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:8] if changed else ""


PROTOCOL = BOSettings(start="training")  # the papers' BO: the surrogate starts from every training string
