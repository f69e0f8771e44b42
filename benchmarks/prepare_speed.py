"""Whole-file preparation of ZINC250k on all cores, against one core.

Times (1) parsing all 249,456 molecules on all cores, (2) the full ``data prepare`` (parsing,
RDKit validation, writing the cache) on all cores into a temporary cache, and (3) the same
preparation on one core over a 25,000-molecule slice as the baseline. The last line is the
throughput ratio of (2) to (3).

    python benchmarks/prepare_speed.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import data_argument

from grammar_rae import Grammar
from grammar_rae.data import prepare_dataset
from grammar_rae.grammar.batch import default_workers, parse_many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    args = parser.parse_args()
    source = args.data_dir / "zinc250k.smi"
    grammar = Grammar.load("smiles")
    molecules = source.read_text().split()

    started = time.perf_counter()
    outcomes = parse_many(grammar, molecules)
    parse_seconds = time.perf_counter() - started
    assert all(o.ok for o in outcomes)

    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        dataset = prepare_dataset(grammar, source, cache_dir=cache)
        full_seconds = time.perf_counter() - started
        kept, rejected = len(dataset), dataset.rejected

        slice_path = Path(cache) / "slice.smi"
        slice_path.write_text("\n".join(molecules[:25_000]) + "\n")
        started = time.perf_counter()
        prepare_dataset(grammar, slice_path, cache_dir=cache, workers=1)
        one_core_rate = 25_000 / (time.perf_counter() - started)

    full_rate = len(molecules) / full_seconds
    print(f"cores:                          {default_workers()}")
    print(f"parse all of ZINC250k:          {parse_seconds:6.1f} s ({len(molecules) / parse_seconds:,.0f} molecules/s)")
    print(
        f"prepare all of ZINC250k:        {full_seconds:6.1f} s ({full_rate:,.0f} molecules/s); kept {kept:,}, rejected {rejected}"
    )
    print(f"prepare on one core (25k slice):         {one_core_rate:,.0f} molecules/s")
    print(f"all-cores vs one-core preparation throughput: {full_rate / one_core_rate:.2f}x")


if __name__ == "__main__":
    main()
