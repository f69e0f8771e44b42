"""How near the shipped model can write each PMO task's target molecules, beside what the BO found.

For every PMO task scored by Tanimoto similarity to target molecules (rediscoveries, similarities,
medians, hops and the MPOs with a similarity term), with the model of ``--model``:

- ``own code``: the task's score of the greedy decode (and of a beam of 5, and of nearest decoding
  with 100 candidates) of each target's own code (the target encoded in the model's form; for
  medians, the better of the two targets' decodes).
  Low here means the decoder cannot write the target, so no search in its latent space finds it;
- ``ZINC250k``: the best score among ``--zinc`` molecules of the model's training split (random,
  fixed seed): what the density the search starts from has seen;
- ``BO best`` and ``BO AUC``: the best score and AUC top-10 of ``grammar-rae benchmark pmo`` runs in
  ``--results`` (mean over the seeds finished), beside PMO's Graph GA AUC.

    python benchmarks/pmo_reach.py --results results/pmo --zinc 20000

The last line is the headline: the BO's best over the best of the ZINC250k sample, the mean over
the tasks with finished seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from grammar_rae.generation.trained import TrainedModel
from grammar_rae.objectives.pmo import task_specs
from grammar_rae.objectives.registry import get_objective
from grammar_rae.optimization.pmo import published


def targets(spec: dict) -> list[str]:
    """The target molecules of a task's Tanimoto terms, each once."""
    return list(dict.fromkeys(term["tanimoto"] for term in spec["terms"] if "tanimoto" in term))


def finished_seeds(folder: Path) -> list[dict]:
    """The summary of each seed of one task and method that reached its budget."""
    records = [json.loads(summary.read_text()) for summary in sorted(folder.glob("seed-*.json"))]
    return [record for record in records if record.get("finished") == "budget"]


def markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table, scores to three decimals."""
    cell = lambda v: "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(rows[0]) + " |", "| --- " * len(rows[0]) + "|"]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row.values()) + " |" for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pretrained:zinc-grae")
    parser.add_argument("--results", type=Path, default=Path("results/pmo"), help="a benchmark pmo --out folder")
    parser.add_argument("--method", default="bo")
    parser.add_argument("--zinc", type=int, default=20000, help="training molecules scored (random, seed 0)")
    args = parser.parse_args()
    model = TrainedModel.load(args.model, device="cpu")
    train = model.data.strings("train")
    zinc = [train[i] for i in np.random.default_rng(0).choice(len(train), min(args.zinc, len(train)), replace=False)]
    graph_ga = published()["methods"]["Graph GA"]
    rows, ratios = [], []
    for task, spec in task_specs().items():
        wanted = targets(spec)
        if not wanted:
            continue
        objective = get_objective(task)
        codes, errors = model.encode(wanted)
        ok = [i for i in range(len(wanted)) if i not in errors]
        greedy = objective(model.decode(codes[ok], "argmax"))
        beam = objective(model.decode(codes[ok], "beam", beam=5))
        nearest = objective(model.decode_nearest(codes[ok], 100, generator=torch.Generator().manual_seed(0)))
        seeds = finished_seeds(args.results / args.method / task)
        best_zinc = float(objective(zinc).max())
        row = {
            "task": task,
            "targets": len(wanted),
            "target score": float(objective(wanted).max()),
            "own code, greedy": float(greedy.max()) if ok else None,
            "own code, beam 5": float(beam.max()) if ok else None,
            "own code, nearest of 100": float(nearest.max()) if ok else None,
            "ZINC250k best": best_zinc,
            "BO best": float(np.mean([r["best"] for r in seeds])) if seeds else None,
            "BO AUC": float(np.mean([r["auc_top10"] for r in seeds])) if seeds else None,
            "seeds": len(seeds),
            "Graph GA AUC": graph_ga.get(task, [None])[0],
        }
        if seeds:
            ratios.append(row["BO best"] / best_zinc)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(markdown(rows))
    print(
        f"BO best over the best of {len(zinc):,} ZINC250k training molecules: {np.mean(ratios):.3f} "
        f"(mean over {len(ratios)} tasks with finished seeds)"
    )


if __name__ == "__main__":
    main()
