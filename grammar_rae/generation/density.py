"""Ex-post densities over latent codes (RAE paper, section 4): fitted on the training set's codes
and sampled to generate, instead of (or besides) the N(0, I) prior.

The estimators follow scikit-learn's API (``fit``, ``sample``, ``score_samples``, ``score``).
``gmm`` fits scikit-learn's full-covariance GaussianMixture; ``gaussian`` is one full-covariance
Gaussian (its maximum-likelihood fit is the sample mean and covariance); ``prior`` is N(0, I).
Every density is stored as plain arrays (weights, means, covariances) in an ``.npz`` file read
with ``allow_pickle=False``, so loading a density never runs code from the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture

from grammar_rae.errors import GrammarRAEError
from grammar_rae.files import write_atomic

DENSITIES = ("gmm", "gaussian", "prior")
_FORMAT = 1


class DensityError(GrammarRAEError):
    """A density file is missing or corrupt, or a density cannot be fitted."""

    kind = "bad density"


class LatentDensity:
    """A mixture of full-covariance Gaussians over R^d (one component for ``gaussian``/``prior``)."""

    def __init__(self, kind: str, components: int = 10, seed: int = 0):
        if kind not in DENSITIES:
            raise DensityError(f"Unknown density {kind!r}: use one of {', '.join(DENSITIES)}.")
        if components < 1:
            raise DensityError(f"A mixture needs at least one component, not {components}.")
        self.kind = kind
        self.components = components if kind == "gmm" else 1
        self.seed = seed
        self.weights_: np.ndarray | None = None
        self.means_: np.ndarray | None = None
        self.covariances_: np.ndarray | None = None

    # ----- fitting ------------------------------------------------------------------------
    def fit(self, codes: np.ndarray) -> LatentDensity:
        """Fit to latent codes (N, d); the prior only takes its dimension from them."""
        codes = np.asarray(codes, dtype=np.float64)
        if codes.ndim != 2 or not np.isfinite(codes).all():
            raise DensityError("Latent codes must be a finite (N, d) array.")
        n, d = codes.shape
        if self.kind == "prior":
            self._set(np.ones(1), np.zeros((1, d)), np.eye(d)[None])
        elif self.kind == "gaussian":
            if n < 2:
                raise DensityError("A Gaussian needs at least two codes.")
            self._set(
                np.ones(1), codes.mean(axis=0, keepdims=True), np.cov(codes, rowvar=False, bias=True).reshape(1, d, d)
            )
        else:
            if n < self.components:
                raise DensityError(
                    f"A {self.components}-component mixture needs at least {self.components} codes, not {n}."
                )
            mixture = GaussianMixture(self.components, covariance_type="full", random_state=self.seed).fit(codes)
            self._set(mixture.weights_, mixture.means_, mixture.covariances_)
        return self

    def _set(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> None:
        self.weights_ = np.asarray(weights, dtype=np.float64) / np.sum(weights)
        self.means_ = np.asarray(means, dtype=np.float64)
        self.covariances_ = np.asarray(covariances, dtype=np.float64)
        try:
            self._cholesky = np.linalg.cholesky(self.covariances_)
        except np.linalg.LinAlgError as exc:
            raise DensityError("A covariance matrix of the density is not positive definite.") from exc

    @property
    def dim(self) -> int:
        """Dimension of the latent space."""
        self._check_fitted()
        return self.means_.shape[1]

    def _check_fitted(self) -> None:
        if self.means_ is None:
            raise DensityError("The density has not been fitted yet.")

    # ----- sampling and scoring -----------------------------------------------------------
    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` latent points (n, d) drawn from the density; the same seed gives the same points."""
        self._check_fitted()
        rng = np.random.default_rng(self.seed if seed is None else seed)
        component = rng.choice(self.components, size=n, p=self.weights_)
        noise = rng.standard_normal((n, self.dim))
        points = self.means_[component] + np.einsum("nij,nj->ni", self._cholesky[component], noise)
        return points.astype(np.float32)

    def score_samples(self, z: np.ndarray) -> np.ndarray:
        """Log density of each point (N,)."""
        self._check_fitted()
        z = np.asarray(z, dtype=np.float64)
        per_component = []
        for weight, mean, chol in zip(self.weights_, self.means_, self._cholesky):
            solved = np.linalg.solve(chol, (z - mean).T)
            log_det = 2.0 * np.log(np.diag(chol)).sum()
            per_component.append(
                np.log(weight) - 0.5 * ((solved**2).sum(axis=0) + log_det + self.dim * np.log(2 * np.pi))
            )
        return logsumexp(np.stack(per_component), axis=0)

    def score(self, z: np.ndarray) -> float:
        """Mean log density of the points."""
        return float(self.score_samples(z).mean())

    # ----- storage ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the density as plain arrays (``.npz``), atomically."""
        self._check_fitted()
        path = Path(path)
        arrays = {
            "format": np.array(_FORMAT),
            "kind": np.array(self.kind),
            "seed": np.array(self.seed),
            "weights": self.weights_,
            "means": self.means_,
            "covariances": self.covariances_,
        }
        write_atomic(path, lambda out: np.savez(out, **arrays))
        return path

    @classmethod
    def load(cls, path: str | Path) -> LatentDensity:
        """Read a density written by :meth:`save` (arrays only; nothing is unpickled)."""
        try:
            with np.load(path, allow_pickle=False) as stored:
                kind, weights = str(stored["kind"]), stored["weights"]
                density = cls(kind, components=len(weights), seed=int(stored["seed"]))
                density._set(weights, stored["means"], stored["covariances"])
        except FileNotFoundError as exc:
            raise DensityError(f"{path} does not exist.") from exc
        except (OSError, KeyError, ValueError) as exc:
            raise DensityError(f"{path} is not a grammar-rae density file ({exc}).") from exc
        return density

    def __repr__(self) -> str:
        state = f"d={self.dim}" if self.means_ is not None else "not fitted"
        return f"LatentDensity({self.kind!r}, components={self.components}, {state})"
