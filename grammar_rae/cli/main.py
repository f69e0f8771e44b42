"""Entry point of the ``grammar-rae`` command.

Each sub-command lives in its own module with an ``add_parser(subparsers)`` function that
registers its arguments and sets ``run``; this file only dispatches and turns user errors
into one clear sentence and a non-zero exit status. Only the module of the command that was
asked for is imported (``commands.py`` lists them), so ``--help`` and light commands such as
``parse`` start without loading torch. Messages and progress bars go to standard error through
``logging`` (logger ``grammar_rae``): INFO by default, ``-q`` only warnings, ``-v`` everything.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
from collections.abc import Iterator

from grammar_rae import __version__
from grammar_rae.cli.commands import COMMANDS
from grammar_rae.errors import GrammarRAEError
from grammar_rae.progress import LOGGER


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command in full (for tests and documentation), or with
    ``command`` only that command's module in full and the others as their help lines."""
    parser = argparse.ArgumentParser(
        prog="grammar-rae",
        description="Grammar-constrained generative models of SMILES and arithmetic expressions.",
    )
    parser.add_argument("--version", action="version", version=f"grammar-rae {__version__}")
    add_verbosity(parser, logging.INFO)
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
    for sub in _commands(parser):  # -q/-v also after a command's name
        add_verbosity(sub, argparse.SUPPRESS)
    return parser


def _commands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every command's parser under ``parser``, sub-commands (``data prepare``) included, each once."""
    found: dict[int, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for command in (sub, *_commands(sub)):
                    found.setdefault(id(command), command)
    return list(found.values())


def add_verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    """``-q`` (warnings and errors only: no progress) and ``-v`` (debug messages too)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-q",
        "--quiet",
        dest="log_level",
        action="store_const",
        const=logging.WARNING,
        default=default,
        help="print only warnings and errors on standard error (no progress bars or notes)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        dest="log_level",
        action="store_const",
        const=logging.DEBUG,
        default=default,
        help="print debug messages too",
    )


@contextlib.contextmanager
def logging_to_stderr(level: int) -> Iterator[None]:
    """The package's messages to standard error (as it is now) at ``level`` while a command runs;
    the logger is left as it was found afterwards (main may run many times in one process)."""
    package = logging.getLogger(LOGGER)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s" if level <= logging.DEBUG else "%(message)s"))
    before = package.level
    package.addHandler(handler)
    package.setLevel(level)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(before)


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
        with logging_to_stderr(args.log_level):
            return args.run(args) or 0
    except GrammarRAEError as exc:
        print(f"grammar-rae: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("grammar-rae: interrupted.", file=sys.stderr)
        return 130
    finally:
        if "torch" in sys.modules:  # a caller in the same process gets torch's default back (load_model)
            sys.modules["torch"].set_flush_denormal(False)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
