"""Latent-space Bayesian optimisation: a sparse-GP surrogate, batch expected improvement, the BO loop
and the PMO sample-efficiency benchmark."""

from grammar_rae.optimization.acquisition import ACQUISITIONS, SEARCHES
from grammar_rae.optimization.bo import SeedRun, TrainingStart, optimize, random_baseline
from grammar_rae.optimization.data_region import DataRegion
from grammar_rae.optimization.pmo import PMOSettings, run_benchmark
from grammar_rae.optimization.records import Iteration, Proposal, RandomRecord, SeedRecord
from grammar_rae.optimization.report import optimization_figures, rescore
from grammar_rae.optimization.settings import PROTOCOL, BOSettings
from grammar_rae.optimization.surrogate import SparseGP, SurrogateSettings

__all__ = [
    "ACQUISITIONS",
    "PROTOCOL",
    "SEARCHES",
    "BOSettings",
    "DataRegion",
    "Iteration",
    "PMOSettings",
    "Proposal",
    "RandomRecord",
    "SeedRecord",
    "SeedRun",
    "SparseGP",
    "SurrogateSettings",
    "TrainingStart",
    "optimization_figures",
    "optimize",
    "random_baseline",
    "rescore",
    "run_benchmark",
]
