"""``grammar-rae parse``: print the production sequence of each input string."""

from __future__ import annotations

import argparse
import json
import sys

from grammar_rae.cli.commands import summary
from grammar_rae.cli.options import add_grammar_option, add_workers_option
from grammar_rae.errors import DataError
from grammar_rae.grammar.batch import parse_many
from grammar_rae.grammar.cfg import Grammar


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``parse``."""
    parser = subparsers.add_parser(
        "parse",
        help=summary("parse"),
        description="Parse strings with a grammar and print each one's production indices (0-based "
        "positions in the grammar file, leftmost derivation). Failures are reported per input; the "
        "exit status is 1 if any input failed.",
    )
    add_grammar_option(parser)
    parser.add_argument("strings", nargs="*", metavar="STRING", help="strings to parse")
    parser.add_argument("--file", help="a text/CSV file with one string per line")
    parser.add_argument("--column", default=None, help="the CSV column holding the strings")
    parser.add_argument("--json", action="store_true", help="print one JSON object per input")
    add_workers_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Parse the inputs and print one line per input."""
    grammar = Grammar.load(args.grammar)
    texts = list(args.strings)
    if args.file:
        from grammar_rae.data.reading import read_strings  # pandas: only for files

        texts += read_strings(args.file, args.column)[1]
    if not texts:
        raise DataError("Nothing to parse: give strings as arguments or --file FILE.")
    outcomes = parse_many(grammar, texts, workers=args.workers if len(texts) > 5000 else 1)
    for text, outcome in zip(texts, outcomes):
        if args.json:
            record = {"input": text}
            record.update({"productions": outcome.sequence} if outcome.ok else {"error": outcome.error})
            print(json.dumps(record))
        elif outcome.ok:
            print(f"{text}\t{' '.join(map(str, outcome.sequence))}")
        else:
            print(f"{text}\terror: {outcome.error}")
    failed = sum(not outcome.ok for outcome in outcomes)
    if failed:
        print(f"grammar-rae: {failed} of {len(texts)} inputs could not be parsed.", file=sys.stderr)
    return 1 if failed else 0
