"""Command start-up time: ``grammar-rae --help``, ``grammar-rae parse CCO`` and the whole of
``grammar-rae sample --n 1000 --report validity`` (the shipped model) as a user runs them, each
a fresh process, against ``python -c pass`` in the same run.

The grammar cache is warmed by one call first (a first-ever load reads the grammar with nltk,
about 1.7 s once). Every command runs on one core (``--cpu``, default the last one: the script
pins itself, and its commands inherit the pin). Times are the best of ``--repeats`` runs;
``sample`` runs once, in a scratch folder with a private cache. The last line is ``parse CCO``'s
time over ``python -c pass``'s.

    python benchmarks/startup.py [--repeats 5] [--no-sample] [--cpu N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import best_time

COMMAND = [str(Path(sys.executable).with_name("grammar-rae"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-sample", action="store_true", help="leave out the sample command (about 10 s a run)")
    parser.add_argument(
        "--cpu", type=int, default=max(os.sched_getaffinity(0)), help="the core to run on (default: the last)"
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})  # one core, for this process and every command it starts
    if not Path(COMMAND[0]).exists():
        COMMAND[:] = [shutil.which("grammar-rae") or sys.exit("grammar-rae is not installed in this environment.")]
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "GRAMMAR_RAE_CACHE_DIR": str(Path(scratch) / "cache")}

        def run(argv: list[str]) -> None:
            subprocess.run(argv, check=True, cwd=scratch, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        run([*COMMAND, "parse", "CCO"])  # fills the grammar cache
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "grammar-rae --help": [*COMMAND, "--help"],
            "grammar-rae parse CCO": [*COMMAND, "parse", "CCO"],
        }
        if not args.no_sample:
            out = str(Path(scratch) / "samples.csv")
            cases["grammar-rae sample --n 1000 --report validity"] = [
                *COMMAND,
                "sample",
                "--n",
                "1000",
                "--report",
                "validity",
                "--out",
                out,
                "--force",
            ]
        times = {
            name: best_time(lambda argv=argv: run(argv), args.repeats if "sample" not in name else 1)
            for name, argv in cases.items()
        }
    print(f"on core {args.cpu} of {os.cpu_count()}")
    for name, seconds in times.items():
        print(f"{name:<48} {seconds:7.3f} s")
    print(f"parse CCO / python -c pass: {times['grammar-rae parse CCO'] / times['python -c pass']:.1f}x")


if __name__ == "__main__":
    main()
