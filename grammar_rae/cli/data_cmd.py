"""``grammar-rae data prepare`` (parse a data file into the compact cached arrays) and ``data generate-expressions``."""

from __future__ import annotations

import argparse
from pathlib import Path

from grammar_rae.cli.commands import summary
from grammar_rae.cli.options import add_grammar_option, add_workers_option, positive_int
from grammar_rae.data.prepare import prepare_dataset
from grammar_rae.data.sources import generate_dataset, registry
from grammar_rae.errors import DataError
from grammar_rae.grammar.cfg import Grammar


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``data`` and its sub-commands."""
    data = subparsers.add_parser("data", help=summary("data"))
    commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    prepare = commands.add_parser(
        "prepare",
        help="parse a SMILES/expression file into cached production-index arrays",
        description="Parse every line of a data file with a grammar and cache the result as compact, "
        "memory-mappable arrays. Bad lines are skipped, counted and listed with their line numbers "
        "in a rejects file next to the cache.",
    )
    add_grammar_option(prepare, default="smiles")
    prepare.add_argument(
        "--data",
        default=None,
        help=f"a text/CSV file, or a data set name ({', '.join(registry())}); default: the grammar's data set",
    )
    prepare.add_argument("--column", default=None, help="the CSV column holding the strings (default: the first)")
    prepare.add_argument("--max-length", type=positive_int, default=None, help="maximum production-sequence length")
    prepare.add_argument("--cache-dir", default=None, help="where prepared arrays go (default: the user cache)")
    prepare.add_argument("--force", action="store_true", help="prepare again even if a cache exists")
    prepare.add_argument(
        "--kekule",
        action="store_true",
        help="rewrite each molecule in its Kekulé form first (no aromatic atoms; SMILES only)",
    )
    add_workers_option(prepare)
    prepare.set_defaults(run=run_prepare)

    generate = commands.add_parser(
        "generate-expressions",
        help="make an expression data set from the grammar itself (no download)",
        description="Draw distinct expressions uniformly among all expressions of at most "
        "--max-productions productions of the expression grammar (comparable to the Grammar VAE's "
        "expr100k set) and write them one per line, tokens separated by spaces.",
    )
    generate.add_argument(
        "--n", type=positive_int, default=100_000, help="number of distinct expressions (default 100000)"
    )
    generate.add_argument(
        "--max-productions", type=positive_int, default=15, help="production budget per expression (default 15)"
    )
    generate.add_argument("--seed", type=int, default=0)
    add_grammar_option(generate, default="expr")
    generate.add_argument(
        "--out", default=None, help="output file (default: expressions-N-seedS.txt; never overwritten)"
    )
    generate.set_defaults(run=run_generate)


def run_prepare(args: argparse.Namespace) -> int:
    """Prepare the data set and print a summary."""
    grammar = Grammar.load(args.grammar)
    dataset = prepare_dataset(
        grammar,
        args.data,
        column=args.column,
        max_length=args.max_length,
        cache_dir=args.cache_dir,
        workers=args.workers,
        force=args.force,
        kekule=args.kekule,
    )
    meta = dataset.meta
    rejected = sum(meta["rejected"].values())
    print(
        f"data:     {meta['source']}"
        + (f" (same bytes as {meta['prepared_from']}, prepared earlier: reused)" if "prepared_from" in meta else "")
    )
    print(
        f"grammar:  {grammar.name} ({grammar.n_rules} rules, max length {meta['max_length']})"
        + (", Kekulé forms" if meta.get("kekule") else "")
    )
    print(f"kept:     {meta['kept']:,} of {meta['lines']:,} lines (prepared in {meta['seconds']} s)")
    reasons = ", ".join(f"{count:,} {kind}" for kind, count in meta["rejected"].items())
    print(f"rejected: {rejected:,}" + (f" ({reasons})" if reasons else ""))
    print(f"cache:    {dataset.folder}")
    print(f"rejects:  {dataset.rejects_path}")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    """Generate the expressions and write them atomically."""
    out = Path(args.out or f"expressions-{args.n}-seed{args.seed}.txt")
    if out.exists():
        raise DataError(f"{out} already exists: choose another --out or remove it.")
    recipe = generate_dataset(args.grammar, args.n, args.max_productions, args.seed, out)
    print(
        f"Wrote {recipe['n']:,} distinct {Grammar.load(args.grammar).name} strings of at most {args.max_productions} "
        f"productions to {out}; a run trained on it can make it again from this recipe."
    )
    return 0
