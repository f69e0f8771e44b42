"""Entry point of the ``grammar-rae`` command.

Each sub-command lives in its own module with an ``add_parser(subparsers)`` function that
registers its arguments and sets ``run``; this file only dispatches and turns user errors
into one clear sentence and a non-zero exit status. Only the module of the command that was
asked for is imported (``commands.py`` lists them), so ``--help`` and light commands such as
``parse`` start without loading torch.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

from grammar_rae import __version__
from grammar_rae.cli.commands import COMMANDS
from grammar_rae.errors import GrammarRAEError


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command in full (for tests and documentation), or with
    ``command`` only that command's module in full and the others as their help lines."""
    parser = argparse.ArgumentParser(
        prog="grammar-rae",
        description="Grammar-constrained generative models of SMILES and arithmetic expressions.",
    )
    parser.add_argument("--version", action="version", version=f"grammar-rae {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = {COMMANDS[command][0]} if command in COMMANDS else set()
    done: set[str] = set()
    for name, (module, help_line) in COMMANDS.items():
        if command is None or module in wanted:
            if module not in done:
                importlib.import_module(f"grammar_rae.cli.{module}").add_parser(subparsers)
                done.add(module)
        else:
            subparsers.add_parser(name, help=help_line, add_help=False)
    return parser


def _command(argv: list[str]) -> str:
    """The command named in ``argv`` (its first word that is not an option), or '' for none."""
    return next((word for word in argv if not word.startswith("-")), "")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command(argv))
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
