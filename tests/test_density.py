"""Ex-post densities: fitting, sampling, scoring, and a safe array-only round trip."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from grammar_rae.generation.density import DensityError, LatentDensity
from grammar_rae.run_folder import density_filename


@pytest.fixture(scope="module")
def two_clusters():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(-5, 0.5, size=(3000, 4)), rng.normal(5, 1.0, size=(1000, 4))])


def test_gmm_finds_the_clusters(two_clusters):
    density = LatentDensity("gmm", components=2).fit(two_clusters)
    order = np.argsort(density.means_[:, 0])
    assert np.allclose(density.weights_[order], [0.75, 0.25], atol=0.01)
    assert np.allclose(density.means_[order, 0], [-5, 5], atol=0.1)
    samples = density.sample(20000, seed=3)
    assert abs((samples[:, 0] < 0).mean() - 0.75) < 0.02


def test_gaussian_is_the_sample_mean_and_covariance(two_clusters):
    density = LatentDensity("gaussian").fit(two_clusters)
    assert np.allclose(density.means_[0], two_clusters.mean(axis=0))
    assert np.allclose(density.covariances_[0], np.cov(two_clusters, rowvar=False, bias=True))
    reference = multivariate_normal(density.means_[0], density.covariances_[0]).logpdf(two_clusters[:10])
    assert np.allclose(density.score_samples(two_clusters[:10]), reference)


def test_prior_is_standard_normal(two_clusters):
    density = LatentDensity("prior").fit(two_clusters)
    assert np.allclose(density.means_, 0) and np.allclose(density.covariances_[0], np.eye(4))
    assert np.allclose(density.score_samples(np.zeros((1, 4))), -2 * np.log(2 * np.pi))


def test_kernel_is_a_mixture_on_kept_codes(two_clusters):
    density = LatentDensity("kernel", components=500, seed=1, bandwidth=0.05).fit(two_clusters)
    assert density.components == 500 and density.means_.dtype == np.float16
    kept = {tuple(row) for row in two_clusters.astype(np.float16)}
    assert all(tuple(row) in kept for row in density.means_)  # the centres are training codes
    covariance = 0.05**2 * np.cov(two_clusters, rowvar=False)
    z = np.vstack([two_clusters[:5] + 0.1, np.full((1, 4), 20.0)])  # near the data, and far from it
    each = [multivariate_normal(m, covariance).logpdf(z) for m in density.means_.astype(np.float64)]
    reference = logsumexp(each, axis=0) - np.log(len(each))
    assert np.allclose(density.score_samples(z, chunk=2), reference)
    samples = density.sample(4000, seed=3)
    assert abs((samples[:, 0] < 0).mean() - 0.75) < 0.03
    whiten = np.linalg.inv(np.linalg.cholesky(np.cov(two_clusters, rowvar=False)))

    def nearest(points):  # median distance to the nearest kept code, in the codes' spread
        return np.median(np.min(np.linalg.norm((points[:, None] - density.means_[None]) @ whiten.T, axis=2), axis=1))

    assert nearest(samples[:500]) < 0.5 * nearest(LatentDensity("gmm", 2).fit(two_clusters).sample(500, seed=3))
    assert LatentDensity("kernel", components=10**6).fit(two_clusters).components == len(two_clusters)
    with pytest.raises(DensityError, match="bandwidth must be positive"):
        LatentDensity("kernel", bandwidth=0)


@pytest.mark.parametrize("kind", ["gmm", "kernel", "gaussian", "prior"])
def test_round_trip_gives_the_same_samples(kind, two_clusters, tmp_path):
    density = LatentDensity(kind, components=3, faithful=0.4).fit(two_clusters)
    path = density.save(tmp_path / density_filename(kind, 3, density.faithful))
    again = LatentDensity.load(path)
    assert again.kind == kind and again.components == density.components and again.bandwidth == density.bandwidth
    assert again.faithful == (0.4 if kind == "kernel" else 0.0) and repr(again) == repr(density)
    assert np.array_equal(density.sample(100, seed=7), again.sample(100, seed=7))
    assert not np.array_equal(density.sample(100, seed=7), again.sample(100, seed=8))
    assert np.allclose(density.score_samples(two_clusters[:50]), again.score_samples(two_clusters[:50]))


def test_pickled_or_broken_files_are_refused(tmp_path):
    evil = tmp_path / "evil.npz"
    np.savez(
        evil,
        kind=np.array("gmm"),
        seed=np.array(0),
        weights=np.array([{"a": 1}], dtype=object),
        means=np.zeros((1, 2)),
        covariances=np.eye(2)[None],
    )
    with pytest.raises(DensityError, match="not a grammar-rae density file"):
        LatentDensity.load(evil)
    with pytest.raises(DensityError, match="does not exist"):
        LatentDensity.load(tmp_path / "missing.npz")
    with pytest.raises(DensityError, match="Unknown density"):
        LatentDensity("kde")
    with pytest.raises(DensityError, match="needs at least 10 codes"):
        LatentDensity("gmm").fit(np.zeros((5, 2)))


def test_a_kernel_on_faithful_codes_has_its_own_file_name():
    assert density_filename("kernel", 40000) == "density-kernel40000.npz"
    assert density_filename("kernel", 40000, 0.4) == "density-kernel40000-faithful0.4.npz"
    assert density_filename("gmm", 10, 0.4) == "density-gmm10.npz" and density_filename("prior") == "density-prior.npz"
    with pytest.raises(DensityError, match="similarity from 0 to 1"):
        LatentDensity("kernel", faithful=1.5)


def test_a_kernel_draws_every_kept_code_once_before_any_twice(two_clusters):
    density = LatentDensity("kernel", components=500, seed=1, bandwidth=1e-6).fit(two_clusters)
    centres = density.means_.astype(np.float64)

    def drawn(n, seed):  # how often each kept code is the centre of a draw
        points = density.sample(n, seed=seed).astype(np.float64)
        nearest = np.argmin(np.linalg.norm(points[:, None] - centres[None], axis=2), axis=1)
        return np.bincount(nearest, minlength=len(centres))

    assert drawn(400, 3).max() == 1 and drawn(1000, 4).tolist() == [2] * 500
    assert drawn(1200, 5).min() == 2 and drawn(1200, 5).max() == 3
