"""How PMO's latent BO should spend its oracle calls: designs compared at equal calls, with their CPU.

Each design is ``grammar-rae benchmark pmo`` with other settings (``bo:batch=50,candidates=20000``
or ``random``, designs separated by ``;``), run on the same tasks and seeds under the same budget into ``<out>/<design>``
(resumable: run the same command again to continue). The table gives each design's AUC top-10 per
task, its sum over the tasks, and the CPU-seconds per task and seed (each seed's own process time);
the last line is the best design's sum over the first design's.

    python benchmarks/pmo_design.py --tasks zaleplon_mpo,celecoxib_rediscovery,median1 --seeds 1 \\
        --designs "bo:batch=100;bo:batch=50;bo:batch=200;random" --out runs/pmo-design
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from grammar_rae.cli.optimize_cmd import parse_seeds
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.optimization.pmo import PMOSettings, check_tasks, run_benchmark


def design_settings(text: str, budget: int) -> PMOSettings:
    """``method[:key=value,...]`` as PMO settings under ``budget``."""
    method, _, rest = text.partition(":")
    values = dict(item.split("=") for item in rest.split(",") if item)
    defaults = PMOSettings()
    return PMOSettings(
        budget=budget, method=method, **{key: type(getattr(defaults, key))(value) for key, value in values.items()}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pretrained:zinc-grae")
    parser.add_argument("--tasks", default="zaleplon_mpo,celecoxib_rediscovery,median1")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--budget", type=int, default=10_000)
    parser.add_argument(
        "--designs",
        default="bo:batch=100;bo:batch=50;bo:batch=200;random",
        help="method[:key=value,...] separated by ;",
    )
    parser.add_argument("--out", type=Path, default=Path("runs") / "pmo-design")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # each iteration's line on standard error
    torch.set_num_threads(1)
    model = TrainedModel.load(args.model, device="cpu")
    tasks, seeds = check_tasks(args.tasks), parse_seeds(args.seeds)
    designs = args.designs.split(";")
    print("| design | " + " | ".join(tasks) + " | sum | CPU-s per task and seed |")
    print("| --- " * (len(tasks) + 3) + "|")
    sums = []
    for design in designs:
        settings = design_settings(design, args.budget)
        folder = args.out / design.replace(":", "-").replace(",", "-").replace("=", "")
        result = run_benchmark(model, tasks, seeds, settings, folder, resume=True)
        cells = [f"{result['tasks'][task]['auc_top10']:.3f}" for task in tasks]
        cpu = [s for task in tasks for s in result["tasks"][task]["cpu_seconds"]]
        sums.append(result["sum"])
        print(f"| {design} | " + " | ".join(cells) + f" | {result['sum']:.3f} | {np.mean(cpu):.0f} |", flush=True)
    best = int(np.argmax(sums))
    print(
        f"best design {designs[best]} over {designs[0]}: sum {sums[best]:.3f} / {sums[0]:.3f} = {sums[best] / sums[0]:.3f}"
    )


if __name__ == "__main__":
    main()
