"""Entry point of the ``grammar-rae`` command.

Each sub-command lives in its own module with an ``add_parser(subparsers)`` function that
registers its arguments and sets ``run``; this file only dispatches and turns user errors
into one clear sentence and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import signal
import sys

from grammar_rae import __version__
from grammar_rae.cli import (
    codes_cmd,
    data_cmd,
    evaluate_cmd,
    export_cmd,
    metrics_cmd,
    optimize_cmd,
    parse_cmd,
    reproduce_cmd,
    sample_cmd,
    train_cmd,
)
from grammar_rae.errors import GrammarRAEError

_COMMANDS = (data_cmd, parse_cmd, train_cmd, codes_cmd, sample_cmd, evaluate_cmd, metrics_cmd, optimize_cmd, reproduce_cmd, export_cmd)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(
        prog="grammar-rae",
        description="Grammar-constrained generative models of SMILES and arithmetic expressions.",
    )
    parser.add_argument("--version", action="version", version=f"grammar-rae {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in _COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    signal.signal(signal.SIGTERM, _interrupt)  # a stopped job saves its state like Ctrl-C
    try:
        return args.run(args) or 0
    except GrammarRAEError as exc:
        print(f"grammar-rae: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("grammar-rae: interrupted.", file=sys.stderr)
        return 130


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
