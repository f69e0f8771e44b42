"""One BO step on ZINC250k: fit the sparse GP on all encoded training molecules and select a batch
of 50 by greedy batch EI, against a dense exact GP on a 5,000-molecule subset in the same run.

Both surrogates are scored on the same random 10% of the training codes (held out from both).
The last line gives the time ratio and both test RMSEs.

    python benchmarks/bo_step.py --model results/molecules/grae [--objective penalized-logp]
"""

from __future__ import annotations

import argparse
import time

import gpytorch
import numpy as np
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.kernels import RBFKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood

from grammar_rae.generation.trained import TrainedModel
from grammar_rae.objectives.registry import get_objective
from grammar_rae.optimization.acquisition import bounding_box, select_batch
from grammar_rae.optimization.bo import training_targets
from grammar_rae.optimization.surrogate import SparseGP, SurrogateSettings


def dense(points: int) -> gpytorch.settings.max_cholesky_size:
    """Exact Cholesky solves for GPs of up to ``points`` training points."""
    return gpytorch.settings.max_cholesky_size(points + 1)


class ExactGP:
    """A dense GP with the attributes ``select_batch`` and the RMSE check use. Used inside
    ``dense()``: gpytorch switches to iterative solvers above 800 points (measured: over 20
    minutes without finishing the fit of 5,000 points here), while one exact Cholesky
    factorisation per step is what a dense GP is. Even so one L-BFGS step (marginal likelihood
    and its gradient) on 5,000 points takes about 16 s on one core, so the fit is capped at
    ``steps`` steps: the measured time is a lower bound of a converged dense fit."""

    def __init__(self, x: np.ndarray, y: np.ndarray, steps: int):
        self.y_mean, self.y_std = float(y.mean()), float(y.std())
        x_t = torch.as_tensor(x, dtype=torch.float64)
        y_t = torch.as_tensor((y - self.y_mean) / self.y_std, dtype=torch.float64).unsqueeze(-1)
        self.model = SingleTaskGP(x_t, y_t, covar_module=ScaleKernel(RBFKernel(ard_num_dims=x.shape[1])))
        fit_gpytorch_mll(
            ExactMarginalLogLikelihood(self.model.likelihood, self.model),
            optimizer_kwargs={"options": {"maxiter": steps}},
            warning_handler=lambda _: True,
        )

    @torch.no_grad()
    def rmse(self, x: np.ndarray, y: np.ndarray) -> float:
        means = [
            self.model.posterior(torch.as_tensor(x[i : i + 2000], dtype=torch.float64)).mean.squeeze(-1)
            for i in range(0, len(x), 2000)
        ]
        mean = torch.cat(means).numpy() * self.y_std + self.y_mean
        return float(np.sqrt(np.mean((mean - y) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="results/molecules/grae", help="a trained ZINC run folder")
    parser.add_argument("--objective", default="penalized-logp")
    parser.add_argument("--subset", type=int, default=5000, help="points of the dense GP")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--exact-steps", type=int, default=25, help="L-BFGS steps of the dense GP's fit (each ~16 s)")
    args = parser.parse_args()

    model = TrainedModel.load(args.model, "cpu")
    objective = get_objective(args.objective)
    y = training_targets(model, objective)
    x = model.codes("train")
    order = np.random.default_rng(0).permutation(len(x))
    test, fit = order[: len(x) // 10], order[len(x) // 10 :]
    bounds = bounding_box(x)
    print(
        f"training codes: {len(fit):,} fitted, {len(test):,} held out; latent dim {x.shape[1]}; "
        f"objective {objective.name} (std {y.std():.3f})",
        flush=True,
    )

    started = time.perf_counter()
    sparse = SparseGP(x.shape[1], SurrogateSettings(), seed=0).fit(x[fit], y[fit])
    fitted = time.perf_counter()
    select_batch(sparse, bounds, args.batch, float(y[fit].max()), seed=0)
    sparse_seconds, sparse_fit = time.perf_counter() - started, fitted - started
    sparse_rmse = sparse.metrics(x[test], y[test]).rmse
    print(
        f"sparse GP, 500 inducing, all points: fit {sparse_fit:.0f} s, fit + batch of {args.batch} {sparse_seconds:.0f} s, "
        f"test RMSE {sparse_rmse:.3f}",
        flush=True,
    )

    started = time.perf_counter()
    subset = fit[: args.subset]
    with dense(args.subset):
        exact = ExactGP(x[subset], y[subset], args.exact_steps)
        fitted = time.perf_counter()
        print(f"exact GP fitted in {fitted - started:.0f} s", flush=True)
        select_batch(exact, bounds, args.batch, float(y[subset].max()), seed=0)
        exact_seconds, exact_fit = time.perf_counter() - started, fitted - started
        exact_rmse = exact.rmse(x[test], y[test])
    print(
        f"exact GP, {args.subset:,} points, {args.exact_steps} L-BFGS steps: fit {exact_fit:.0f} s, "
        f"fit + batch of {args.batch} {exact_seconds:.0f} s, "
        f"test RMSE {exact_rmse:.3f}",
        flush=True,
    )

    print(
        f"sparse (all {len(fit):,} points) / exact ({args.subset:,} points) time: {sparse_seconds / exact_seconds:.2f}x; "
        f"test RMSE {sparse_rmse:.3f} vs {exact_rmse:.3f}"
    )


if __name__ == "__main__":
    main()
