"""The commands of ``grammar-rae``: the module that registers each one and its line in ``--help``.

Kept apart from the command modules so that ``grammar-rae --help`` and a single command import
only what they need (``main.py`` registers the one command that was asked for).
"""

from __future__ import annotations

COMMANDS = {  # command -> (module in grammar_rae.cli, one-line help), in the order --help lists them
    "data": ("data_cmd", "prepare data sets"),
    "parse": ("parse_cmd", "print the production-index sequence of strings"),
    "train": ("train_cmd", "train a model (grae, gvae, gcvae, cvae)"),
    "encode": ("codes_cmd", "print the latent vectors of strings (JSON lines)"),
    "decode": ("codes_cmd", "decode latent vectors (JSON lines from `encode`) to strings"),
    "fit-density": ("sample_cmd", "fit an ex-post density to a run's training codes"),
    "sample": ("sample_cmd", "generate strings and report validity, uniqueness, novelty, properties"),
    "interpolate": ("sample_cmd", "decode points on the line between two strings"),
    "evaluate": ("evaluate_cmd", "reconstruction, validity and MOSES metrics of a run"),
    "metrics": ("metrics_cmd", "the MOSES metrics of a file of generated SMILES"),
    "optimize": ("optimize_cmd", "latent Bayesian optimisation of an objective"),
    "score": ("optimize_cmd", "score strings with an objective"),
    "benchmark": ("benchmark_cmd", "benchmark suites of optimisers (pmo: 20 tasks under a budget of oracle calls)"),
    "reproduce": ("reproduce_cmd", "reproduce the papers' tables (resumable)"),
    "export": ("export_cmd", "pack a trained run (weights, GMM, model card) for sharing"),
}


def summary(command: str) -> str:
    """The one-line help of ``command``."""
    return COMMANDS[command][1]
