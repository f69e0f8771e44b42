"""Training beside other jobs: torch's default thread count against one thread per job.

torch computes with one thread per core by default. When other jobs already keep every core busy
(a second training run, a BO benchmark), a job whose threads outnumber the free cores makes its
threads wait on each other at every parallel step, and its time per step grows many times over;
with one thread it takes its share of a core and no more. This is why ``grammar-rae train``,
``sample``, ``optimize`` and the other model commands take ``--threads``.

The script starts one busy process per core (a loop of matrix products at torch's default thread
count, as a job started without ``--threads``), then times
``--batches`` training steps of the shipped molecule recipe (after a warm-up step) at one thread
and at torch's default, in wall-clock seconds per step: what the user waits. The last line gives
the default's time per step against one thread's, measured in the same run.

    python benchmarks/shared_cores.py [--batches 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import numpy as np
import torch
from _common import data_argument
from preset_epoch_time import trainer_and_plan

from grammar_rae import Grammar
from grammar_rae.models.config import shipped_recipe


def busy(stop, threads: int) -> None:
    """Compute matrix products at ``threads`` threads until ``stop`` is set."""
    torch.set_num_threads(threads)
    a = torch.randn(512, 512)
    while not stop.is_set():
        a @ a


def seconds_per_step(threads: int, grammar: Grammar, data_dir, batches: int) -> float:
    """Wall seconds per training step of the shipped recipe at ``threads`` torch threads."""
    torch.set_num_threads(threads)
    trainer, plan = trainer_and_plan(grammar, shipped_recipe("smiles")[0], data_dir)
    picked = np.random.default_rng(0).choice(len(plan), size=batches + 1, replace=False)
    trainer._step(plan[picked[0]])  # warm-up
    started = time.perf_counter()
    for i in picked[1:]:
        trainer._step(plan[i])
    return (time.perf_counter() - started) / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--batches", type=int, default=5, help="training steps timed per thread count")
    default = torch.get_num_threads()
    parser.add_argument(
        "--busy-threads",
        type=int,
        default=default,
        help="threads of each busy process (default: torch's default, as jobs started without --threads)",
    )
    args = parser.parse_args()
    grammar = Grammar.load("smiles")
    stop = multiprocessing.Event()
    workers = [multiprocessing.Process(target=busy, args=(stop, args.busy_threads)) for _ in range(os.cpu_count() or 1)]
    for worker in workers:
        worker.start()
    try:
        times = {threads: seconds_per_step(threads, grammar, args.data_dir, args.batches) for threads in (1, default)}
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    for threads, seconds in times.items():
        print(
            f"{threads} thread{'s' if threads > 1 else ''}: {seconds:.2f} s per step beside {len(workers)} busy processes"
        )
    print(
        f"torch's default ({default} threads) beside busy cores: {times[default] / times[1]:.1f}x the time per step of one thread"
    )


if __name__ == "__main__":
    main()
