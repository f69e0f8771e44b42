"""Reproduce the molecule results (RAE paper, Table 4) on ZINC250k.

    python examples/reproduce_molecules.py                  # cpu preset: 4 models of ~1 hour each, seeds 1-10
    python examples/reproduce_molecules.py --quick          # a smoke test
    python examples/reproduce_molecules.py --preset paper   # the published settings, on a CUDA GPU

Same as ``grammar-rae reproduce molecules``; resumable (give the same command again), and the
tables land in results/molecules/results.md (results/molecules-paper/ with --preset paper).
"""

import sys

from grammar_rae.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", "molecules", *sys.argv[1:]]))
