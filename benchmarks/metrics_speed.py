"""``grammar-rae metrics`` time: a first call (reference sets computed and cached) against a second
call on the same sets (read back from the cache), in one run.

Inputs are slices of ZINC250k written to a temporary folder: 10,000 "generated" molecules (rows
100,001–110,000), a 20,000-molecule test set (rows 1–20,000) and a 100,000-molecule training set
(rows 120,001–220,000), with a fresh private cache. The reference package (``molsets``) cannot be
installed on today's stack (its pin ``pomegranate==0.12.0`` does not build), so there is no
reference time to print beside these. The last line is the first call's time over the cached call's.

    GRAMMAR_RAE_DATA_DIR=../shared/data python benchmarks/metrics_speed.py [--n-jobs N] [--no-fcd]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from grammar_rae.data.reading import read_strings
from grammar_rae.data.sources import resolve_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--no-fcd", action="store_true", help="leave FCD out")
    args = parser.parse_args()
    _, zinc = read_strings(resolve_data("zinc250k", "smiles"))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        os.environ["GRAMMAR_RAE_CACHE_DIR"] = str(folder / "cache")
        files = {"generated": zinc[100_000:110_000], "test": zinc[:20_000], "train": zinc[120_000:220_000]}
        for name, strings in files.items():
            (folder / f"{name}.smi").write_text("\n".join(strings) + "\n")
        from grammar_rae.evaluation.references import MoleculeSource, file_metrics

        sources = [MoleculeSource(folder / f"{name}.smi") for name in files]
        times, results = [], []
        for _ in range(2):
            started = time.perf_counter()
            results.append(file_metrics(*sources, workers=args.n_jobs, fcd=not args.no_fcd))
            times.append(time.perf_counter() - started)
    assert results[0]["metrics"] == results[1]["metrics"], "the cached call gave other numbers"
    print("10,000 generated vs 20,000 test and 100,000 training molecules")
    for key, value in results[0]["metrics"].items():
        print(f"  {key:<11} {value if value is None or isinstance(value, int) else round(value, 4)}")
    print(f"first call (reference sets computed): {times[0]:8.1f} s")
    print(f"second call (reference sets cached):  {times[1]:8.1f} s")
    print("reference package: not installable (molsets 0.3.1 pins pomegranate==0.12.0)")
    print(f"first call / cached call: {times[0] / times[1]:.1f}x")


if __name__ == "__main__":
    main()
