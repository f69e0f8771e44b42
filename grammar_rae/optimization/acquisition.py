"""Batch expected improvement inside a box, with botorch.

The batch is chosen greedily, one point at a time, each conditioned on the points already
chosen (botorch's sequential ``optimize_acqf`` with Monte-Carlo q-EI): the greedy batch EI of the
Grammar VAE's BO. We use q-*log*-EI, which has the same maximisers as EI but does not vanish
numerically far from the incumbent (Ament et al., 2023).
"""

from __future__ import annotations

import numpy as np
import torch
from botorch.acquisition import qLogExpectedImprovement
from botorch.optim import optimize_acqf
from botorch.sampling import SobolQMCNormalSampler

from grammar_rae.optimization.surrogate import SparseGP


def bounding_box(codes: np.ndarray) -> np.ndarray:
    """(2, d) lower and upper bounds of the codes, the search space of the BO."""
    return np.stack([codes.min(axis=0), codes.max(axis=0)])


def select_batch(
    surrogate: SparseGP,
    bounds: np.ndarray,
    q: int,
    best: float,
    seed: int = 0,
    restarts: int = 4,
    raw_samples: int = 256,
    mc_samples: int = 64,
    max_iterations: int = 50,
) -> np.ndarray:
    """``q`` points (q, d) in ``bounds`` chosen greedily by batch EI over ``best`` (the best
    score seen so far, in the objective's units, maximised). ``restarts``, ``raw_samples``,
    ``mc_samples`` and ``max_iterations`` trade the optimiser's thoroughness for time: each of the
    q greedy steps runs ``restarts`` L-BFGS-B searches of at most ``max_iterations`` steps from
    the best of ``raw_samples`` random points."""
    torch.manual_seed(seed)
    acquisition = qLogExpectedImprovement(
        surrogate.model,
        best_f=(best - surrogate.y_mean) / surrogate.y_std,
        sampler=SobolQMCNormalSampler(torch.Size([mc_samples]), seed=seed),
    )
    candidates, _ = optimize_acqf(
        acquisition,
        bounds=torch.as_tensor(bounds, dtype=torch.float64),
        q=q,
        num_restarts=restarts,
        raw_samples=raw_samples,
        sequential=True,
        options={"seed": seed, "maxiter": max_iterations},
    )
    return candidates.detach().numpy().astype(np.float32)
