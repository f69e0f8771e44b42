"""Where the decoder has seen data: the run's ex-post GMM as a region for the BO to stay in.

Batch EI inside the bounding box of the training codes proposes points far from every code: on
the expression GrammarRAE 98% of its proposals had a GMM log-density below the 1st percentile of
the GMM's own samples, and the decoder turns such points into strings it was never trained on.
The RAE paper's ex-post density says where the codes are; :class:`DataRegion` makes it a
differentiable constraint for the acquisition search: log p(z) ≥ ``floor``, the lower of two
``quantile``s (``--density-floor 0.01``): that of the training codes' log-densities and that of
the density's own samples'. So the region holds at least 99% of the training codes and at least
99% of the density's mass. The two agree on the expression models and the ZINC GrammarRAE (the
codes' quantile is the lower, by 3 to 30 nats), but on the ZINC GVAE the codes are 25 nats denser
than the mixture's own samples (median 303 against 278): a floor from the codes alone leaves
0.01% of the mixture above it, and no search could start.

The log-density is torch's ``MixtureSameFamily`` of ``MultivariateNormal`` components built from
the fitted GMM's arrays, so botorch can take its gradient; starting points for the search are
drawn from the GMM itself (those above the floor), so every local search starts feasible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from botorch.generation.gen import gen_candidates_scipy
from botorch.optim.initializers import initialize_q_batch
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from grammar_rae.errors import GrammarRAEError
from grammar_rae.generation.density import LatentDensity

SLACK = 1e-3  # nats: the search is held this far inside the floor (see tightened_search)
SAVED_PRECISION = (
    1e-4  # nats: proposals' log-densities are saved to 4 decimals, so one on the floor may read this much below
)


def below_floor(log_density: np.ndarray | float, floor: float) -> np.ndarray | bool:
    """Whether saved log-densities lie below the floor, beyond what rounding them for saving can move
    (a proposal the search placed on the floor is inside the region)."""
    return np.asarray(log_density) < floor - SAVED_PRECISION


OWN_SAMPLES = 100_000  # draws of the density (seed 0) whose log-densities give its own quantile


@dataclass
class DataRegion:
    """The set {z : log p(z) ≥ floor} of a fitted density, with what the search needs of it."""

    density: LatentDensity
    floor: float
    quantile: float
    candidates: dict[str, float] = field(default_factory=dict)  # the floors it was the lower of, by source

    @classmethod
    def of(cls, density: LatentDensity, codes: np.ndarray, quantile: float) -> DataRegion:
        """The region above the ``quantile`` of the log-densities of ``codes`` (the training codes)
        or of the density's own samples, whichever is lower."""
        if not 0.0 <= quantile < 1.0:
            raise ValueError(f"The density floor is a quantile in [0, 1), not {quantile}.")
        own = density.score_samples(density.sample(OWN_SAMPLES, seed=0))
        candidates = {
            "the training codes'": float(np.quantile(density.score_samples(codes), quantile)),
            "the GMM's own samples'": float(np.quantile(own, quantile)),
        }
        return cls(density, min(candidates.values()), quantile, candidates)

    def describe(self) -> str:
        """One line: the floor and, for a region made by :meth:`of`, where it comes from."""
        text = f"data region: log-density ≥ {self.floor:.2f}"
        if not self.candidates:
            return text
        sources = " and ".join(f"{name} {value:.2f}" for name, value in self.candidates.items())
        return f"{text}, the lower of the {self.quantile:g} quantiles of {sources}"

    def __post_init__(self) -> None:
        self._mixture = MixtureSameFamily(
            Categorical(probs=torch.as_tensor(self.density.weights_, dtype=torch.float64)),
            MultivariateNormal(
                torch.as_tensor(self.density.means_, dtype=torch.float64),
                covariance_matrix=torch.as_tensor(self.density.covariances_, dtype=torch.float64),
            ),
        )

    def log_density(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) over the last dimension (differentiable)."""
        return self._mixture.log_prob(z.to(torch.float64))

    def margin(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) − floor: ≥ 0 inside the region (botorch's form of a nonlinear constraint)."""
        return self.log_density(z) - self.floor

    def constraint(self) -> tuple:
        """The region as botorch's intra-point nonlinear inequality constraint (≥ 0 inside)."""
        return (self.margin, True)

    def inside(self, z: np.ndarray | torch.Tensor) -> np.ndarray:
        """Whether each point (N, d) lies in the region."""
        with torch.no_grad():
            return (self.margin(torch.as_tensor(np.asarray(z), dtype=torch.float64)) >= 0).numpy()

    def draw(self, n: int, bounds: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``n`` points (n, d) of the GMM that lie in the region (by at least ``SLACK``) and in
        ``bounds``, from at most 100 rounds of 2n draws (so at least 0.5% of them must qualify)."""
        found: list[torch.Tensor] = []
        total = 0
        for _ in range(100):
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
            z = torch.as_tensor(self.density.sample(2 * n, seed=seed), dtype=torch.float64)
            keep = z[((z >= bounds[0]) & (z <= bounds[1])).all(dim=-1) & (self.margin(z) >= SLACK)]
            found.append(keep)
            total += len(keep)
            if total >= n:
                return torch.cat(found)[:n]
        raise GrammarRAEError(
            "The ex-post density puts almost no mass (under 0.5% of its samples) both above "
            "its floor and inside the box of the training codes, so the density-aware search has "
            "nowhere to start: lower --density-floor or use --acquisition ei."
        )

    def pull_in(self, z: np.ndarray, steps: int = 30) -> np.ndarray:
        """Each point below the floor moved, by bisection on the segment to the mean of its most
        likely component, to the region's edge (points inside are returned as they are): a search
        that ends marginally outside (the solver's tolerance) still proposes a point inside. Each
        step tests the point as it will be returned, in float32, so rounding cannot put it outside."""
        z = np.array(z, dtype=np.float64)
        outside = ~self.inside(z)
        if not outside.any():
            return z.astype(np.float32)
        log_resp = self._mixture.component_distribution.log_prob(torch.as_tensor(z[outside])[:, None, :])
        centres = self.density.means_[log_resp.argmax(dim=1).numpy()]
        low, high = np.zeros(outside.sum()), np.ones(outside.sum())  # t = 0 at the centre, 1 at the point
        for _ in range(steps):
            middle = (low + high) / 2
            ok = self.inside((centres + middle[:, None] * (z[outside] - centres)).astype(np.float32))
            low, high = np.where(ok, middle, low), np.where(ok, high, middle)
        z[outside] = centres + low[:, None] * (z[outside] - centres)
        return z.astype(np.float32)

    def initial_conditions(self, seed: int):
        """A botorch ``ic_generator``: starting points drawn from the GMM inside the region (and
        the box), the ``num_restarts`` of them chosen by botorch's Boltzmann heuristic on the
        acquisition's values."""

        def generate(acq_function, bounds, q, num_restarts, raw_samples, **_) -> torch.Tensor:
            generator = torch.Generator().manual_seed(seed)
            starts = self.draw(raw_samples * q, bounds.to(torch.float64), generator).reshape(raw_samples, q, -1)
            with torch.no_grad():
                values = acq_function(starts)
            torch.manual_seed(seed)
            chosen, _ = initialize_q_batch(starts, values, num_restarts)
            return chosen

        return generate


def tightened_search(
    initial_conditions,
    acquisition_function,
    lower_bounds=None,
    upper_bounds=None,
    nonlinear_inequality_constraints=None,
    **options,
):
    """botorch's ``gen_candidates_scipy`` (SLSQP here) with each nonlinear constraint tightened by
    ``SLACK``. SLSQP ends on the edge of the set it is given, and botorch then refuses a candidate
    outside by more than 1e-8, which the exact edge misses by rounding; the search is held just inside
    instead, and botorch checks the exact constraint.

    Args:
        initial_conditions, acquisition_function, lower_bounds, upper_bounds: as for
            ``gen_candidates_scipy``.
        nonlinear_inequality_constraints: botorch's constraint list, each tightened by ``SLACK``.
        **options: passed on to ``gen_candidates_scipy``.
    """
    constraints = nonlinear_inequality_constraints or []
    tightened = [(lambda z, c=c: c(z) - SLACK, intra) for c, intra in constraints]
    candidates, values = gen_candidates_scipy(
        initial_conditions,
        acquisition_function,
        lower_bounds,
        upper_bounds,
        nonlinear_inequality_constraints=tightened or None,
        **options,
    )
    # SLSQP may stop (at its step limit) outside the set: such a search keeps its feasible start
    with torch.no_grad():
        outside = torch.zeros(len(candidates), dtype=torch.bool)
        for constraint, _ in constraints:
            outside |= (torch.as_tensor(constraint(candidates)) < 0).any(dim=-1)
        if outside.any():
            candidates = torch.where(outside[:, None, None], initial_conditions, candidates)
            values = acquisition_function(candidates)
    return candidates, values
