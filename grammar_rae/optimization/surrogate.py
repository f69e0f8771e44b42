"""The sparse Gaussian-process surrogate of latent Bayesian optimisation (protocol section 9).

A variational sparse GP (botorch's ``SingleTaskVariationalGP`` over gpytorch) with 500 inducing
points and an ARD RBF kernel, trained on all (encoded) training points with minibatch Adam on the
variational ELBO, as the Grammar VAE trained its sparse GP (Adam, lr 5e-4 there, minibatches of
5,000). Targets are standardised inside the surrogate; predictions come back in the objective's
units. Fitting can continue from a previous state (``warm``), which is how each BO iteration
refits the GP after new observations without starting over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gpytorch
import numpy as np
import torch
from botorch.models import SingleTaskVariationalGP
from gpytorch.kernels import RBFKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import VariationalELBO
from tqdm import tqdm


@dataclass
class SurrogateSettings:
    """How the sparse GP is built and trained."""

    inducing: int = 500
    epochs: int = 50
    warm_epochs: int = 10
    batch_size: int = 5000
    lr: float = 5e-3


@dataclass
class SurrogateMetrics:
    """Held-out quality of the surrogate: RMSE and mean Gaussian log-likelihood per point."""

    rmse: float
    log_likelihood: float
    n: int


class SparseGP:
    """Sparse variational GP regression from latent codes (N, d) to scores (N,)."""

    def __init__(self, dim: int, settings: SurrogateSettings | None = None, seed: int = 0):
        self.dim = dim
        self.settings = settings or SurrogateSettings()
        self.seed = seed
        self.model: SingleTaskVariationalGP | None = None
        self.y_mean = 0.0
        self.y_std = 1.0

    def _build(self, x: torch.Tensor, y: torch.Tensor) -> None:
        generator = torch.Generator().manual_seed(self.seed)
        chosen = torch.randperm(len(x), generator=generator)[: self.settings.inducing]
        self.model = SingleTaskVariationalGP(
            x[: min(len(x), 10)],
            y[: min(len(x), 10)].unsqueeze(-1),
            likelihood=GaussianLikelihood(),
            covar_module=ScaleKernel(RBFKernel(ard_num_dims=self.dim)),
            inducing_points=x[chosen].clone(),
        )

    def fit(self, x: np.ndarray, y: np.ndarray, warm: bool = False, progress: bool = False) -> "SparseGP":
        """Train on codes ``x`` and scores ``y``; with ``warm`` (and an existing model), continue
        from the current state for ``warm_epochs`` epochs instead of ``epochs`` from scratch."""
        torch.manual_seed(self.seed)
        x_t = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        y_raw = np.asarray(y, dtype=np.float64)
        if not (warm and self.model is not None):
            self.y_mean, self.y_std = float(y_raw.mean()), float(y_raw.std() or 1.0)
        y_t = torch.as_tensor((y_raw - self.y_mean) / self.y_std, dtype=torch.float64)
        epochs = self.settings.warm_epochs if warm and self.model is not None else self.settings.epochs
        if not (warm and self.model is not None):
            self._build(x_t, y_t)
        model = self.model
        model.train()
        elbo = VariationalELBO(model.likelihood, model.model, num_data=len(x_t))
        optimiser = torch.optim.Adam(model.parameters(), lr=self.settings.lr)
        generator = torch.Generator().manual_seed(self.seed)
        batches = math.ceil(len(x_t) / self.settings.batch_size)
        with tqdm(total=epochs * batches, desc="fitting the GP", disable=not progress) as bar:
            for _ in range(epochs):
                order = torch.randperm(len(x_t), generator=generator)
                for start in range(0, len(x_t), self.settings.batch_size):
                    rows = order[start : start + self.settings.batch_size]
                    optimiser.zero_grad()
                    loss = -elbo(model.model(x_t[rows]), y_t[rows])
                    loss.backward()
                    optimiser.step()
                    bar.update()
        model.eval()
        return self

    @torch.no_grad()
    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and variance (of an observation, noise included) in the objective's units."""
        x_t = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        means, variances = [], []
        with gpytorch.settings.fast_pred_var():
            for start in range(0, len(x_t), 5000):
                predictive = self.model.likelihood(self.model.model(x_t[start : start + 5000]))
                means.append(predictive.mean)
                variances.append(predictive.variance)
        mean = torch.cat(means).numpy() * self.y_std + self.y_mean
        return mean, torch.cat(variances).numpy() * self.y_std**2

    def metrics(self, x: np.ndarray, y: np.ndarray) -> SurrogateMetrics:
        """RMSE and mean predictive log-likelihood on held-out points."""
        mean, variance = self.predict(x)
        y = np.asarray(y, dtype=np.float64)
        log_likelihood = -0.5 * (np.log(2 * np.pi * variance) + (y - mean) ** 2 / variance)
        return SurrogateMetrics(float(np.sqrt(np.mean((y - mean) ** 2))), float(log_likelihood.mean()), len(y))

    def state_dict(self) -> dict:
        """Tensors and plain values to save the fitted surrogate."""
        return {"gp": self.model.model.state_dict(), "likelihood": self.model.likelihood.state_dict(),
                "y_mean": self.y_mean, "y_std": self.y_std}

    def load_state_dict(self, state: dict, x: np.ndarray, y: np.ndarray) -> "SparseGP":
        """Restore a saved surrogate (``x``/``y``: its training data, to rebuild the structure)."""
        self.y_mean, self.y_std = float(state["y_mean"]), float(state["y_std"])
        x_t = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        self._build(x_t, torch.as_tensor((np.asarray(y) - self.y_mean) / self.y_std, dtype=torch.float64))
        self.model.model.load_state_dict(state["gp"])
        self.model.likelihood.load_state_dict(state["likelihood"])
        self.model.eval()
        return self
