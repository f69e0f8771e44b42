"""Every target of the latent-space issue, measured on a molecule model beside a baseline model.

Inputs are given as users write them: each ZINC test-split molecule as RDKit's canonical aromatic
SMILES. For each model:

- the greedy round trip (``encode`` then ``decode --decode argmax``; the same molecule, stereo
  included, by canonical SMILES) of the first ``--test`` test molecules, with codes refined as
  ``encode`` makes them by default (``--refine`` steps) and with the encoder's codes (``--refine 0``),
  and whether ``interpolate A B`` (its default: refined ends) gives both ends back for ``--pairs``
  pairs of them;
- ``--n`` samples as ``grammar-rae sample`` draws them by default (the kernel density for
  deterministic models, greedy decoding), with the MOSES metrics against the ZINC test split and
  the training split (novelty), the share valid and radical-free, and ZINC's own Filters and IntDiv
  (its test split) for the targets given relative to them;
- the penalized-logP BO rows recorded in the run's ``optimization/`` (plain EI, ``floor-ei`` and the
  random baseline), where they have been run;
- the wall time of the whole command ``grammar-rae sample --n 1000`` in a fresh process (best of two).

Each row names the target and says whether the model meets it. The last line gives the model's
round trip on the test split against the baseline's, measured in the same run.

    python benchmarks/latent_targets.py --model RUN [--baseline results/molecules-ar/grae] [--n 30000]

A shipped model's BO results live in the run it was exported from, so name that run folder
(``results/latent-long/conv-64-10`` for the present ``pretrained:zinc-grae``; the default baseline,
``results/molecules-ar/grae``, is the model shipped before it, ``pretrained:zinc-grae-paper-encoder``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from _common import best_time, gives_back
from constraint_validity import outcome
from rdkit import RDLogger

from grammar_rae.data.validity import canonical_many
from grammar_rae.evaluation.moses import FeatureSet, internal_diversity, moses_metrics
from grammar_rae.evaluation.references import test_statistics, training_statistics, zinc_split
from grammar_rae.generation.interpolation import interpolate
from grammar_rae.generation.refinement import REFINE_STEPS
from grammar_rae.generation.sampling import sample
from grammar_rae.generation.trained import TrainedModel


def round_trips(model: TrainedModel, molecules: list[str], refine: int) -> np.ndarray:
    """Whether greedy decoding of each molecule's code, refined by at most ``refine`` steps, gives
    the molecule back (canonical SMILES)."""
    codes, _, errors = model.encode_refined(molecules, steps=refine)
    decoded = model.decode(codes, "argmax")
    return gives_back([None if i in errors else s for i, s in enumerate(decoded)], canonical_many("smiles", molecules))


def interpolation_ends(model: TrainedModel, pairs: list[tuple[str, str]], refine: int) -> float:
    """Share of pairs whose interpolation (two steps: its ends) decodes to both molecules."""
    hits = 0
    for a, b in pairs:
        (_, start), (_, end) = interpolate(model, a, b, steps=2, refine=refine)
        hits += canonical_many("smiles", [start, end]) == canonical_many("smiles", [a, b])
    return hits / len(pairs)


def bo_rows(model: TrainedModel) -> dict:
    """Plain EI's and floor-ei's fraction valid, average and best, and the random baseline's
    average, from the run folder's penalized-logP records (absent ones are left out; a shipped
    model's are in the run it was exported from)."""
    out = {}
    for path in sorted(Path(model.folder, "optimization").glob("penalized-logp*/optimization.json")):
        record = json.loads(path.read_text())
        name = record["settings"].get("acquisition", "ei")
        out[name] = {
            "valid": record["bo"]["fraction_valid"]["mean"],
            "average": record["bo"]["average_score"]["mean"],
            "best": record["bo"]["top"][0]["score"],
        }
        if record.get("random"):
            out["random"] = {"average": record["random"]["average_score"]["mean"]}
    return out


def sample_seconds(model: str, repeats: int = 2) -> float:
    """Best wall time of ``grammar-rae sample --model M --n 1000 --report validity`` in a fresh process."""
    command = [shutil.which("grammar-rae") or sys.exit("grammar-rae is not installed in this environment.")]
    with tempfile.TemporaryDirectory() as folder:
        argv = [*command, "sample", "--model", model, "--n", "1000", "--report", "validity"]
        argv += ["--out", str(Path(folder) / "s.csv"), "--force", "-q"]
        return best_time(lambda: subprocess.run(argv, check=True, stdout=subprocess.DEVNULL), repeats)


def measure(name: str, test: list[str], pairs: list[tuple[str, str]], args, reference, training) -> dict:
    """Every figure of one model."""
    model = TrainedModel.load(name, "cpu")
    drawn = sample(model, args.n, seed=args.seed)
    canonical = canonical_many("smiles", drawn.strings)
    return {
        "round_trip": float(round_trips(model, test, args.refine).mean()),
        "round_trip_encoder": float(round_trips(model, test, 0).mean()),
        "interpolation_ends": interpolation_ends(model, pairs, args.refine),
        "radical_free": float(np.mean([outcome(s) == "valid" for s in drawn.strings])),
        "moses": moses_metrics(canonical, reference, training),
        "bo": bo_rows(model),
        "sample_seconds": sample_seconds(name),
    }


def rows(result: dict, zinc: dict) -> list[tuple[str, str, float | None, bool | None]]:
    """(target, threshold, value, met) for each target; value and met are None where not measured."""
    m, bo = result["moses"], result["bo"]
    runs = [bo[a] for a in ("ei", "floor-ei") if a in bo]
    gain = bo["floor-ei"]["average"] - bo["random"]["average"] if {"floor-ei", "random"} <= set(bo) else None
    table = [
        ("greedy round trip, test split as aromatic SMILES", ">= 0.6", result["round_trip"], lambda v: v >= 0.6),
        ("the same from the encoder's codes (--refine 0)", ">= 0.6", result["round_trip_encoder"], lambda v: v >= 0.6),
        ("interpolate A B gives both ends back", ">= 0.6", result["interpolation_ends"], lambda v: v >= 0.6),
        ("FCD/test", "<= 1.0", m["fcd"], lambda v: v <= 1.0),
        (
            "MCF+PAINS pass rate",
            f"within 10% of ZINC's {zinc['filters']:.3f}",
            m["filters"],
            lambda v: abs(v - zinc["filters"]) <= 0.1 * zinc["filters"],
        ),
        ("SA W1", "<= 0.3", m["sa"], lambda v: v <= 0.3),
        ("logP W1", "<= 0.3", m["logp"], lambda v: v <= 0.3),
        ("QED W1", "<= 0.03", m["qed"], lambda v: v <= 0.03),
        ("valid and radical-free", ">= 0.99", result["radical_free"], lambda v: v >= 0.99),
        ("unique@10k", ">= 0.99", m["unique@10k"], lambda v: v >= 0.99),
        ("novelty", ">= 0.8", m["novelty"], lambda v: v >= 0.8),
        (
            "IntDiv",
            f"within 0.02 of ZINC's {zinc['intdiv']:.3f}",
            m["intdiv"],
            lambda v: abs(v - zinc["intdiv"]) <= 0.02,
        ),
        (
            "BO of penalized logP: fraction valid (ei, floor-ei)",
            ">= 0.95",
            min((r["valid"] for r in runs), default=None),
            lambda v: v >= 0.95,
        ),
        ("BO: floor-ei average minus the random baseline's", "> 0", gain, lambda v: v > 0),
        ("BO: top-1 (ei, floor-ei)", ">= 4.5", max((r["best"] for r in runs), default=None), lambda v: v >= 4.5),
        ("`grammar-rae sample --n 1000`, whole command (s)", "< 10", result["sample_seconds"], lambda v: v < 10),
    ]
    return [(name, threshold, v, None if v is None else bool(met(v))) for name, threshold, v, met in table]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the molecule model measured (a run folder)")
    parser.add_argument("--baseline", default="results/molecules-ar/grae", help="measured the same way in the same run")
    parser.add_argument("--n", type=int, default=30000, help="default samples scored (default 30000)")
    parser.add_argument("--test", type=int, default=1000, help="test molecules round-tripped (default 1000)")
    parser.add_argument("--refine", type=int, default=REFINE_STEPS, help="refinement steps of encode's codes")
    parser.add_argument("--pairs", type=int, default=100, help="interpolated pairs (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    RDLogger.DisableLog("rdApp.*")
    torch.set_num_threads(1)
    reference, _ = test_statistics(zinc_split("test"), workers=1)
    training, _ = training_statistics(zinc_split("train"), workers=1)
    test = reference.smiles[: args.test]  # RDKit's canonical aromatic SMILES, the spelling most users have
    pairs = list(zip(test[: args.pairs], test[args.pairs : 2 * args.pairs]))
    own = FeatureSet(reference.smiles, workers=1)
    zinc = {"filters": float(own.filters.mean()), "intdiv": internal_diversity(own.fingerprints, 1)}
    results = {name: measure(name, test, pairs, args, reference, training) for name in (args.model, args.baseline)}
    print(f"{len(test):,} test molecules, {len(pairs)} pairs, {args.n:,} default samples (seed {args.seed})")
    print(f"| target | threshold | {args.model} | met | {args.baseline} | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    text = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    mark = lambda ok: "–" if ok is None else "yes" if ok else "no"  # noqa: E731
    for mine, theirs in zip(rows(results[args.model], zinc), rows(results[args.baseline], zinc)):
        print(f"| {mine[0]} | {mine[1]} | {text(mine[2])} | {mark(mine[3])} | {text(theirs[2])} | {mark(theirs[3])} |")
    if args.out:
        args.out.write_text(json.dumps({"zinc": zinc, "results": results}, indent=1) + "\n")
    new, old = results[args.model]["round_trip"], results[args.baseline]["round_trip"]
    print(
        f"greedy round trip on the test split: {new:.3f} against {old:.3f} for {args.baseline} ({new / max(old, 1e-9):.2f}x)"
    )


if __name__ == "__main__":
    main()
