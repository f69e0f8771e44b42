"""``grammar-rae reproduce expressions``: the paper's expression results, resumable."""

from __future__ import annotations

import argparse
import json
import sys

from grammar_rae.cli.optimize_cmd import parse_seeds
from grammar_rae.errors import GrammarRAEError
from grammar_rae.reproduce.expressions import expressions_experiment
from grammar_rae.reproduce.pipeline import MODELS, run_experiment


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``reproduce`` and its sub-commands."""
    reproduce = subparsers.add_parser("reproduce", help="reproduce the papers' tables (resumable)")
    commands = reproduce.add_subparsers(dest="reproduce_command", metavar="SUBCOMMAND", required=True)
    expr = commands.add_parser(
        "expressions",
        help="GRAE, GCVAE, GVAE and CVAE on the expression set, then the BO table",
        description="Train the four models on the 100,000-expression set with the paper preset, evaluate "
        "them, run the BO protocol on expression fit (seeds 1-10) with a random baseline, and write "
        "results.json and results.md. Every stage resumes: give the same command again after an interruption.",
    )
    expr.add_argument("--quick", action="store_true", help="a reduced run for smoke testing (20,000 expressions, 3 epochs, 2 seeds)")
    expr.add_argument("--out", default=None, help="output folder (default results/expressions, or results/expressions-quick)")
    expr.add_argument("--models", default=",".join(MODELS), help=f"comma list of {','.join(MODELS)} (default: all)")
    expr.add_argument("--seeds", default=None, help="BO seeds, e.g. 1-10 (default: 1-10, or 1-2 with --quick)")
    expr.add_argument("--data", default="expr100k", help="expression file or data set name (default expr100k)")
    expr.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    expr.add_argument("--json", action="store_true", help="print results.json")
    expr.set_defaults(run=run_expressions)


def parse_models(text: str) -> list[str]:
    """A comma list of model names, checked."""
    models = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise GrammarRAEError(f"--models {text!r}: choose from {', '.join(MODELS)}.")
    return models


def run_expressions(args: argparse.Namespace) -> int:
    """Run or resume the expression reproduction and print its table."""
    experiment = expressions_experiment(
        "quick" if args.quick else "full", args.out, parse_models(args.models),
        parse_seeds(args.seeds) if args.seeds else None, args.data, args.device,
    )
    print(f"Reproducing the expression results into {experiment.out} (resumable: run the same command again to continue).",
          file=sys.stderr)
    results = run_experiment(experiment, progress=sys.stderr.isatty(), log=lambda m: print(m, file=sys.stderr))
    if args.json:
        print(json.dumps(results))
    else:
        print((experiment.out / "results.md").read_text())
    return 0
