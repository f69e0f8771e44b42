"""``grammar-rae evaluate``: the evaluation protocol of a run, printed and saved to evaluation.json."""

from __future__ import annotations

import argparse
import json

from grammar_rae.cli.commands import summary
from grammar_rae.cli.options import add_model_option, add_workers_option, load_model, positive_int
from grammar_rae.errors import GrammarRAEError
from grammar_rae.evaluation.protocol import STAGES, EvaluationSettings, evaluate, evaluation_figures
from grammar_rae.generation.density import DENSITIES

_COUNTS = {
    "--test-strings": ("test_strings", "test strings for reconstruction (default 5000)"),
    "--encodes": ("encodes", "encodings per test string (default 10 for VAEs, 1 otherwise)"),
    "--decodes": ("decodes", "decodes per encoding (default 100)"),
    "--prior-points": ("prior_points", "latent points for validity (default 1000)"),
    "--prior-decodes": ("prior_decodes", "decodes per latent point (default 100)"),
    "--samples": ("samples", "samples per density for the MOSES table (default 30000)"),
    "--beam": ("beam", "hypotheses of the beam-search reconstruction (default 5)"),
    "--components": ("components", "GMM components (default 10)"),
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``evaluate``."""
    parser = subparsers.add_parser(
        "evaluate",
        help=summary("evaluate"),
        description="Run the evaluation protocol (reconstruction accuracy, validity of density samples, "
        "MOSES-style metrics) and save it to evaluation.json in the run folder. Finished stages are "
        "kept, so an interrupted evaluation continues where it stopped.",
    )
    add_model_option(parser)
    for flag, (_, text) in _COUNTS.items():
        parser.add_argument(flag, type=positive_int, default=None, help=text)
    parser.add_argument(
        "--densities", default="gmm,prior", help=f"comma list of {','.join(DENSITIES)} (default gmm,prior)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-fcd", action="store_true", help="skip the Fréchet ChemNet Distance")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma list of {','.join(STAGES)} (default: all)")
    parser.add_argument("--force", action="store_true", help="recompute the chosen stages instead of reusing them")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--plots", action="store_true", help="write PNG figures of the samples into the run folder")
    add_workers_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print."""
    counts = {name: getattr(args, flag[2:].replace("-", "_")) for flag, (name, _) in _COUNTS.items()}
    densities = tuple(d.strip() for d in args.densities.split(",") if d.strip())
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    if not stages or set(stages) - set(STAGES):
        raise GrammarRAEError(f"--stages {args.stages!r}: choose from {', '.join(STAGES)}.")
    settings = EvaluationSettings(
        **{k: v for k, v in counts.items() if v is not None},
        densities=densities,
        seed=args.seed,
        fcd=not args.no_fcd,
        stages=stages,
    )
    model = load_model(args)
    results = evaluate(model, settings, args.workers, force=args.force)
    if args.plots:
        drawn = (*densities, "default") if "samples" in stages else densities
        results["plots"] = [str(p) for p in evaluation_figures(model, drawn, args.workers)]
    if args.json:
        print(json.dumps(results))
    else:
        print_results(results, model.run.evaluation)
    return 0


def print_results(results: dict, path) -> None:
    """The stages as short tables."""
    stages = results["stages"]
    for name in ("reconstruction", "reconstruction/greedy", "reconstruction/beam"):
        if name in stages:
            r = stages[name]
            how = f"beam {results['settings']['beam']}" if r["mode"] == "beam" else r["mode"]
            print(
                f"{name}: {r['accuracy']:.4f} ({r['n']:,} test strings × {r['encodes']} encodes × {r['decodes']} decodes, {how})"
            )
    for name, value in stages.items():
        if name.startswith("validity/"):
            first = value["first_decode"]
            print(
                f"{name}: {value['validity']:.4f} of {value['points']:,} points × {value['decodes']} decodes; "
                f"first decodes: unique {first['uniqueness']:.3f}, novel {first['novelty']:.3f}"
            )
    sample_stages = {k.split("/", 1)[1]: v for k, v in stages.items() if k.startswith("samples/")}
    if sample_stages:
        first = next(iter(sample_stages.values()))
        metrics = [k for k, v in first.items() if k not in ("seconds", "n") and isinstance(v, (int, float, type(None)))]
        print("samples".ljust(12) + "".join(kind.rjust(12) for kind in sample_stages))
        for metric in ["n"] + metrics:
            cells = [sample_stages[kind].get(metric) for kind in sample_stages]
            print(
                metric.ljust(12)
                + "".join(
                    ("n/a" if c is None else f"{c:,}" if isinstance(c, int) else f"{c:.3f}").rjust(12) for c in cells
                )
            )
    if "default" in sample_stages:
        print(f"default: {sample_stages['default']['drawn']} (what grammar-rae sample draws)")
    for plot in results.get("plots", []):
        print(f"figure: {plot}")
    print(f"saved: {path}")
