"""Where BO should start: points drawn from the ex-post density against training molecules, at equal
objective calls.

Each seed starts the surrogate from N scored points, either drawn from the model's ex-post GMM and
decoded greedily (``density:N``, needs no training data) or a random N of the training molecules
(``training:N``; ``training:all`` is the protocol's start, 220,010 calls for ZINC), then runs the
same batch-EI loop, spending N + iterations × batch objective calls per seed. The table gives mean ±
standard error (ddof = 1) over the seeds of each seed's best and top-3 valid scores and the average
proposal; the last line is the first start's mean best over the second's, per objective.

    python benchmarks/optimization_start.py --model pretrained:zinc-grae --objectives penalized-logp,qed \\
        --starts density:500,training:500,density:100 --seeds 1-3 --iterations 5 --batch 10 --attempts 50
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from grammar_rae.cli.optimize_cmd import parse_seeds
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.objectives.registry import get_objective
from grammar_rae.optimization import BOSettings, SeedRecord, optimize
from grammar_rae.optimization.records import objective_folder


def seed_figures(record: SeedRecord, maximize: bool) -> tuple[float, float, float]:
    """A seed's best and top-3 mean valid score and the mean of its valid proposals."""
    scores = np.array([p.score for p in record.proposals if p.valid])
    ranked = np.sort(scores)[::-1] if maximize else np.sort(scores)
    return float(ranked[0]), float(ranked[:3].mean()), float(scores.mean())


def mean_se(values: list[float]) -> str:
    """Mean ± standard error (sample std, ddof = 1)."""
    values = np.asarray(values)
    return (
        f"{values.mean():.2f} ± {values.std(ddof=1) / np.sqrt(len(values)):.2f}"
        if len(values) > 1
        else f"{values.mean():.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pretrained:zinc-grae")
    parser.add_argument("--objectives", default="penalized-logp,qed")
    parser.add_argument("--seeds", default="1-3")
    parser.add_argument(
        "--starts", default="density:500,training:500", help="comma list of density:N, training:N, training:all"
    )
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument(
        "--attempts", type=int, default=50, help="decodes per proposed point (the protocol's 500 is 10x slower)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = TrainedModel.load(args.model, device="cpu")
    seeds = parse_seeds(args.seeds)
    starts = [
        (kind, None if n == "all" else int(n)) for kind, n in (item.split(":") for item in args.starts.split(","))
    ]
    print(
        "| objective | start | calls per seed | best | top 3 | average proposal |\n| --- | --- | --- | --- | --- | --- |"
    )
    ratios = []
    for name in args.objectives.split(","):
        objective = get_objective(name)
        best = {}
        for start, initial in starts:
            settings = BOSettings(
                iterations=args.iterations, batch=args.batch, attempts=args.attempts, start=start, initial=initial
            )
            optimize(model, objective, seeds, settings, baseline=False)
            folder = objective_folder(model, objective, settings)
            records = [SeedRecord.load(folder / f"seed-{seed}.json") for seed in seeds]
            figures = np.array([seed_figures(record, objective.maximize) for record in records])
            calls = records[0].objective_calls
            label = "protocol (every training molecule)" if initial is None else f"{start}, {initial}"
            print(
                f"| {name} | {label} | {calls['start'] + calls['proposals']:,} | {mean_se(figures[:, 0])} | "
                f"{mean_se(figures[:, 1])} | {mean_se(figures[:, 2])} |",
                flush=True,
            )
            best[(start, initial)] = figures[:, 0].mean()
        ratios.append(f"{name} {best[starts[0]] / best[starts[1]]:.2f}")
    print(f"mean best of the start {args.starts.split(',')[0]} over {args.starts.split(',')[1]}: {', '.join(ratios)}")


if __name__ == "__main__":
    main()
