"""Latent-space Bayesian optimisation: a sparse-GP surrogate, batch expected improvement, the BO loop
and the PMO sample-efficiency benchmark."""

from grammar_rae.optimization.acquisition import ACQUISITIONS, SEARCHES
from grammar_rae.optimization.bo import PROTOCOL, BOSettings, SeedRun, random_baseline
from grammar_rae.optimization.data_region import DataRegion
from grammar_rae.optimization.pmo import PMOSettings, run_benchmark
from grammar_rae.optimization.report import optimization_figures, optimize, rescore
from grammar_rae.optimization.surrogate import SparseGP, SurrogateSettings

__all__ = [
    "ACQUISITIONS",
    "PROTOCOL",
    "SEARCHES",
    "BOSettings",
    "DataRegion",
    "PMOSettings",
    "SeedRun",
    "SparseGP",
    "SurrogateSettings",
    "optimization_figures",
    "optimize",
    "random_baseline",
    "rescore",
    "run_benchmark",
]
