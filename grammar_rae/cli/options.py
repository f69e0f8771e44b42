"""Argument definitions shared by several sub-commands."""

from __future__ import annotations

import argparse

from grammar_rae.grammar.cfg import builtin_grammars


def add_grammar_option(parser: argparse.ArgumentParser, default: str | None = "smiles") -> None:
    """``--grammar smiles|expr|PATH``."""
    parser.add_argument(
        "--grammar",
        default=default,
        metavar="|".join(builtin_grammars()) + "|PATH",
        help=f"a shipped grammar or the path of a .cfg grammar file (default: {default})",
    )


def add_workers_option(parser: argparse.ArgumentParser) -> None:
    """``--workers N``."""
    parser.add_argument("--workers", type=positive_int, default=None, help="processes to use (default: all cores)")


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value
