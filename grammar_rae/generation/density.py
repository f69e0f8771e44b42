"""Ex-post densities over latent codes (RAE paper, section 4): fitted on the training set's codes
and sampled to generate, instead of (or besides) the N(0, I) prior.

The estimators follow scikit-learn's API (``fit``, ``sample``, ``score_samples``, ``score``).
``gmm`` fits scikit-learn's full-covariance GaussianMixture; ``kernel`` is a Gaussian kernel
density on training codes (a kept code plus N(0, h² Σ) noise, Σ the codes' covariance, h the
bandwidth), which stays near the codes the decoder was trained on and so decodes closest to the
data (docs/latent-space.md, "Which density `sample` draws from"); ``gaussian`` is one
full-covariance Gaussian (its maximum-likelihood fit is the sample mean and covariance); ``prior``
is N(0, I). Every density is stored as plain arrays (weights, means, covariances) in an ``.npz``
file read with ``allow_pickle=False``, so loading a density never runs code from the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture

from grammar_rae.errors import GrammarRAEError
from grammar_rae.files import write_atomic

DENSITIES = ("gmm", "kernel", "gaussian", "prior")
KERNEL_CENTRES = 40000  # training codes a kernel density keeps (docs/latent-space.md)
KERNEL_BANDWIDTH = 0.1
_FORMAT = 1


class DensityError(GrammarRAEError):
    """A density file is missing or corrupt, or a density cannot be fitted."""

    kind = "bad density"


def default_components(kind: str) -> int:
    """Components of a density when none are asked for: 10 for a GMM, the kernel's kept codes."""
    return KERNEL_CENTRES if kind == "kernel" else 10


class LatentDensity:
    """A mixture of Gaussians over R^d: full covariances (``gmm``), one shared covariance scaled by
    ``bandwidth²`` around kept codes (``kernel``), or one component (``gaussian``/``prior``)."""

    def __init__(
        self,
        kind: str,
        components: int | None = None,
        seed: int = 0,
        bandwidth: float = KERNEL_BANDWIDTH,
        faithful: float = 0.0,
    ):
        if kind not in DENSITIES:
            raise DensityError(f"Unknown density {kind!r}: use one of {', '.join(DENSITIES)}.")
        components = default_components(kind) if components is None else components
        if components < 1:
            raise DensityError(f"A mixture needs at least one component, not {components}.")
        if not bandwidth > 0:
            raise DensityError(f"A kernel's bandwidth must be positive, not {bandwidth}.")
        if not 0 <= faithful <= 1:
            raise DensityError(f"A kernel's faithfulness is a similarity from 0 to 1, not {faithful}.")
        self.kind = kind
        self.components = components if kind in ("gmm", "kernel") else 1
        self.seed = seed
        self.bandwidth = bandwidth if kind == "kernel" else 1.0
        # a record of the codes a kernel was given: each decodes to its own string with at least this
        # similarity (chosen by generation.sampling.fit_density; 0: every code)
        self.faithful = faithful if kind == "kernel" else 0.0
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
        elif self.kind == "kernel":
            if n < 2:
                raise DensityError("A kernel density needs at least two codes.")
            kept = np.random.default_rng(self.seed).permutation(n)[: self.components]
            self.components = len(kept)
            self._set(
                np.full(len(kept), 1 / len(kept)), codes[kept].astype(np.float16), np.cov(codes, rowvar=False)[None]
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
        # a kernel keeps its codes in half precision (a quarter of the file; on the ZINC model's codes the
        # rounding is 1e-3 at most, a twentieth of the smallest noise at h = 0.1); a mixture's means float64
        self.means_ = np.asarray(means, dtype=np.float16 if self.kind == "kernel" else np.float64)
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
        if self.kind == "kernel":
            component = self._balanced_centres(n, rng)
        else:
            component = rng.choice(self.components, size=n, p=self.weights_)
        noise = rng.standard_normal((n, self.dim))
        if self.kind == "kernel":
            points = self.means_[component].astype(np.float64) + self.bandwidth * noise @ self._cholesky[0].T
            return points.astype(np.float32)
        points = self.means_[component] + np.einsum("nij,nj->ni", self._cholesky[component], noise)
        return points.astype(np.float32)

    def _balanced_centres(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """A kernel's centres for ``n`` draws: every kept code once, in random order, before any
        twice. Each draw's centre is still uniform, as the density says, but two draws of a batch
        share a centre only when the batch is larger than the kernel; with independent draws 10,000
        points from 40,000 codes share a centre about 1,250 times, and at h = 0.1 such pairs often
        decode to one molecule (docs/latent-space.md, "A kernel on faithful codes")."""
        rounds = -(-n // self.components)
        return np.concatenate([rng.permutation(self.components) for _ in range(rounds)])[:n]

    def score_samples(self, z: np.ndarray, chunk: int = 1000) -> np.ndarray:
        """Log density of each point (N,); a kernel's is computed ``chunk`` points at a time."""
        self._check_fitted()
        z = np.asarray(z, dtype=np.float64)
        if self.kind == "kernel":
            return self._kernel_log_density(z, chunk)
        per_component = []
        for weight, mean, chol in zip(self.weights_, self.means_, self._cholesky):
            solved = np.linalg.solve(chol, (z - mean).T)
            log_det = 2.0 * np.log(np.diag(chol)).sum()
            per_component.append(
                np.log(weight) - 0.5 * ((solved**2).sum(axis=0) + log_det + self.dim * np.log(2 * np.pi))
            )
        return logsumexp(np.stack(per_component), axis=0)

    def _kernel_log_density(self, z: np.ndarray, chunk: int) -> np.ndarray:
        chol = self.bandwidth * self._cholesky[0]
        centres = solve_triangular(chol, self.means_.astype(np.float64).T, lower=True).T
        points = solve_triangular(chol, z.T, lower=True).T
        constant = np.log(np.diag(chol)).sum() + 0.5 * self.dim * np.log(2 * np.pi)
        squared = (centres**2).sum(axis=1)
        out = []
        for start in range(0, len(points), chunk):
            part = points[start : start + chunk]
            distances = (part**2).sum(axis=1)[:, None] + squared[None] - 2 * part @ centres.T
            out.append(logsumexp(np.log(self.weights_) - 0.5 * distances, axis=1) - constant)
        return np.concatenate(out) if out else np.zeros(0)

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
            "bandwidth": np.array(self.bandwidth),
            "faithful": np.array(self.faithful),
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
                bandwidth = float(stored["bandwidth"]) if "bandwidth" in stored.files else KERNEL_BANDWIDTH
                faithful = float(stored["faithful"]) if "faithful" in stored.files else 0.0
                density = cls(kind, len(weights), int(stored["seed"]), bandwidth, faithful)
                density._set(weights, stored["means"], stored["covariances"])
        except FileNotFoundError as exc:
            raise DensityError(f"{path} does not exist.") from exc
        except (OSError, KeyError, ValueError, DensityError) as exc:
            raise DensityError(f"{path} is not a grammar-rae density file ({exc}).") from exc
        return density

    def __repr__(self) -> str:
        state = f"d={self.dim}" if self.means_ is not None else "not fitted"
        bandwidth = f", bandwidth={self.bandwidth:g}, faithful={self.faithful:g}" if self.kind == "kernel" else ""
        return f"LatentDensity({self.kind!r}, components={self.components}{bandwidth}, {state})"
