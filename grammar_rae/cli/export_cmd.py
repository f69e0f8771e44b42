"""``grammar-rae export``: pack a trained run as a shareable model with a model card."""

from __future__ import annotations

import argparse

from grammar_rae import run_folder as rf
from grammar_rae.cli.commands import summary
from grammar_rae.generation.trained import find_run
from grammar_rae.reproduce.model_card import check_model_name, export_model


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``export``."""
    export = subparsers.add_parser(
        "export",
        help=summary("export"),
        description="Copy a run's best weights, config, metrics and fitted densities (no training checkpoint) to "
        "OUT/NAME and write its model card (README.md) from the run's own records. The shipped models "
        "under pretrained/ were made this way.",
    )
    export.add_argument("--model", required=True, metavar="RUN", help="the trained run folder")
    export.add_argument(
        "--name", required=True, help="the model's name (loadable as pretrained:NAME when placed in pretrained/)"
    )
    export.add_argument("--out", default="pretrained", help="folder to put it in (default pretrained/)")
    export.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export and say where."""
    check_model_name(args.name, args.out)  # before anything is read
    folder = find_run(args.model)
    rf.read_config(folder)  # a run at all, before asking for its densities
    target = export_model(folder, args.name, args.out)
    print(f"Exported {args.model} to {target} (model card: {target / 'README.md'}).")
    return 0
