"""``grammar-rae reproduce expressions|molecules``: the papers' tables, resumable."""

from __future__ import annotations

import argparse
import json
import logging

from grammar_rae.cli.commands import summary
from grammar_rae.cli.optimize_cmd import parse_seeds
from grammar_rae.errors import GrammarRAEError
from grammar_rae.models.config import preset_names
from grammar_rae.reproduce.expressions import expressions_experiment
from grammar_rae.reproduce.molecules import default_out, molecules_experiment
from grammar_rae.reproduce.pipeline import MODELS, Experiment, run_experiment, write_tables

logger = logging.getLogger(__name__)

RESUMABLE = "Every stage resumes: give the same command again after an interruption."


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``reproduce`` and its sub-commands."""
    reproduce = subparsers.add_parser("reproduce", help=summary("reproduce"))
    commands = reproduce.add_subparsers(dest="reproduce_command", metavar="SUBCOMMAND", required=True)
    expr = commands.add_parser(
        "expressions",
        help="GRAE, GCVAE, GVAE and CVAE on the expression set, then the BO table",
        description="Train the four models on the 100,000-expression set with the paper preset, evaluate "
        "them, run the BO protocol on expression fit (seeds 1-10) with a random baseline, and write "
        f"results.json and results.md. {RESUMABLE}",
    )
    _common_options(
        expr,
        "20,000 expressions, 3 epochs, 2 seeds of 3 × 20 points",
        "results/expressions, or results/expressions-quick",
        "expr100k",
    )
    expr.set_defaults(run=run_expressions)
    mol = commands.add_parser(
        "molecules",
        help="GRAE, GCVAE, GVAE and CVAE on ZINC250k, then the MOSES and penalized-logP BO tables",
        description="Train the four models on ZINC250k (--preset cpu: about one hour each on a 2-core CPU; "
        "--preset paper: the published settings, for a GPU), evaluate them (reconstruction, validity, MOSES "
        "table), run the BO protocol on penalized logP (seeds 1-10) with a random baseline, and write "
        f"results.json and results.md. {RESUMABLE}",
    )
    mol.add_argument("--preset", default="cpu", choices=preset_names(), help="cpu (default) or paper")
    _common_options(
        mol,
        "20,000 molecules, 1 epoch, 2 seeds of 3 × 20 points",
        f"{default_out('full', 'cpu')}, {default_out('full', 'paper')} with --preset paper, -quick appended with --quick",
        "zinc250k",
    )
    mol.set_defaults(run=run_molecules)


def _common_options(parser: argparse.ArgumentParser, quick: str, out: str, data: str) -> None:
    parser.add_argument("--quick", action="store_true", help=f"a reduced run for smoke testing ({quick})")
    parser.add_argument("--out", default=None, help=f"output folder (default {out})")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma list of {','.join(MODELS)} (default: all)")
    parser.add_argument("--seeds", default=None, help="BO seeds, e.g. 1-10 (default: 1-10, or 1-2 with --quick)")
    parser.add_argument("--data", default=data, help=f"data file or data set name (default {data})")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    parser.add_argument("--json", action="store_true", help="print results.json")
    parser.add_argument(
        "--tables",
        action="store_true",
        help="run nothing: rebuild results.json, results.md and the comparison figure from the model folders",
    )


def parse_models(text: str) -> list[str]:
    """A comma list of model names, checked."""
    models = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise GrammarRAEError(f"--models {text!r}: choose from {', '.join(MODELS)}.")
    return models


def _scale_and_choices(args: argparse.Namespace) -> dict:
    return {
        "scale": "quick" if args.quick else "full",
        "out": args.out,
        "models": parse_models(args.models),
        "seeds": parse_seeds(args.seeds) if args.seeds else None,
        "data": args.data,
        "device": args.device,
    }


def run_expressions(args: argparse.Namespace) -> int:
    """Run or resume the expression reproduction and print its table."""
    return _run(expressions_experiment(**_scale_and_choices(args)), args)


def run_molecules(args: argparse.Namespace) -> int:
    """Run or resume the molecule reproduction and print its tables."""
    return _run(molecules_experiment(preset=args.preset, **_scale_and_choices(args)), args)


def _run(experiment: Experiment, args: argparse.Namespace) -> int:
    if args.tables:
        results = write_tables(experiment)
    else:
        logger.info(
            f"Reproducing the {experiment.name} results into {experiment.out} (resumable: run the same command "
            "again to continue)."
        )
        results = run_experiment(experiment)
    if args.json:
        print(json.dumps(results))
    else:
        print((experiment.out / "results.md").read_text())
    return 0
