"""``grammar-rae metrics``: the MOSES table of a file of generated SMILES."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grammar_rae.cli.commands import summary
from grammar_rae.cli.options import positive_int

# (key in the table, label as MOSES prints it)
_ROWS = (
    ("valid", "Valid"),
    ("unique@1k", "Unique@1k"),
    ("unique@10k", "Unique@10k"),
    ("fcd", "FCD/Test"),
    ("snn", "SNN/Test"),
    ("frag", "Frag/Test"),
    ("scaf", "Scaf/Test"),
    ("intdiv", "IntDiv"),
    ("intdiv2", "IntDiv2"),
    ("filters", "Filters"),
    ("novelty", "Novelty"),
    ("logp", "logP (W1)"),
    ("sa", "SA (W1)"),
    ("qed", "QED (W1)"),
    ("weight", "weight (W1)"),
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``metrics``."""
    parser = subparsers.add_parser(
        "metrics",
        help=summary("metrics"),
        description="Compute the MOSES table (Valid, Unique@1k/10k, FCD, SNN, Frag, Scaf, IntDiv, IntDiv2, Filters, "
        "Novelty and the Wasserstein distances of logP, SA, QED and weight) of generated SMILES, one per line or a "
        "CSV column, against a test and a training set (default: the ZINC250k test and training splits the "
        "models use). Invalid lines count against validity and are listed; the reference sets' statistics are "
        "cached, so a second call against the same sets is fast.",
    )
    parser.add_argument(
        "generated", type=Path, metavar="GENERATED", help="file of generated SMILES (.smi, .txt, .csv, .gz)"
    )
    parser.add_argument(
        "--column", default=None, help="column of GENERATED to read when it is a table (default: the first)"
    )
    parser.add_argument(
        "--test", type=Path, default=None, metavar="FILE", help="reference molecules (default: the ZINC250k test split)"
    )
    parser.add_argument(
        "--train",
        type=Path,
        default=None,
        metavar="FILE",
        help="training molecules, for novelty (default: the ZINC250k training split)",
    )
    parser.add_argument("--no-fcd", action="store_true", help="skip the Fréchet ChemNet Distance")
    parser.add_argument("--json", action="store_true", help="print one JSON object with every metric and count")
    parser.add_argument(
        "--n-jobs",
        "--workers",
        dest="workers",
        type=positive_int,
        default=None,
        metavar="N",
        help="processes to use (default: all cores)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Compute and print the table."""
    from grammar_rae.evaluation.references import MoleculeSource, file_metrics

    result = file_metrics(
        MoleculeSource(args.generated, args.column),
        MoleculeSource(args.test) if args.test else None,
        MoleculeSource(args.train) if args.train else None,
        args.workers,
        fcd=not args.no_fcd,
    )
    if args.json:
        print(json.dumps(result))
        return 0
    generated, metrics = result["generated"], result["metrics"]
    print(
        f"{generated['file']}: {generated['valid']:,} of {generated['lines']:,} lines are valid molecules"
        + (f" (invalid lines: {_lines(generated['invalid_lines'])})" if generated["invalid_lines"] else "")
    )
    for kind in ("test", "train"):
        info = result[kind]
        count = info.get("molecules", info.get("distinct_molecules"))
        rejected = f"; {len(info['rejected_lines']):,} invalid lines left out" if info["rejected_lines"] else ""
        print(f"{kind}: {info['file']}, {count:,} molecules{rejected}")
    why = metrics.get("missing", {})
    for key, label in _ROWS:
        value = metrics.get(key)
        print(f"{label:<12}" + (f"  n/a: {why.get(key, 'not computed')}" if value is None else f"{value:>10.4f}"))
    return 0


def _lines(numbers: list[int], shown: int = 10) -> str:
    text = ", ".join(map(str, numbers[:shown]))
    return text + (f" and {len(numbers) - shown:,} more (--json lists all)" if len(numbers) > shown else "")
