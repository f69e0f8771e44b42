"""Reproduce the GrammarRAE expression results (RAE paper, Figure 2) on a CPU.

    python examples/reproduce_expressions.py            # the full table: 4 models, seeds 1-10
    python examples/reproduce_expressions.py --quick    # a smoke test, under 15 minutes

Same as ``grammar-rae reproduce expressions``; resumable (give the same command again), and the
table lands in results/expressions/results.md.
"""

import sys

from grammar_rae.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "expressions", *sys.argv[1:]]))
