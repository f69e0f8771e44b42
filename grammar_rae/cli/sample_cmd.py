"""``grammar-rae fit-density``, ``sample`` and ``interpolate``: generating from a trained run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grammar_rae.cli.commands import summary
from grammar_rae.cli.options import add_model_option, add_workers_option, load_model, positive_float, positive_int
from grammar_rae.errors import GrammarRAEError
from grammar_rae.evaluation.plots import sample_figures
from grammar_rae.evaluation.protocol import REPORTS, check_reports, sample_report
from grammar_rae.files import save_lines, unused_path
from grammar_rae.generation.density import DENSITIES
from grammar_rae.generation.interpolation import interpolate
from grammar_rae.generation.sampling import fit_density, run_density, sample, samples_file


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``fit-density``, ``sample`` and ``interpolate``."""
    fit = subparsers.add_parser(
        "fit-density", help=summary("fit-density"),
        description="Fit a density to the latent codes of the training split (posterior means for VAEs) "
        "and store it in the run folder as plain arrays.",
    )
    add_model_option(fit, decodes=False)
    _add_density_options(fit, default="gmm")
    fit.set_defaults(run=run_fit)

    samp = subparsers.add_parser(
        "sample", help=summary("sample"),
        description="Draw latent points from an ex-post density (fitted on demand), decode them with the "
        "grammar-masked decoder, write the strings (one per line; an empty line where no valid string "
        "was decoded) and print a report.",
    )
    add_model_option(samp)
    samp.add_argument("--n", type=positive_int, default=1000, help="number of samples (default 1000)")
    _add_density_options(samp, default=None)
    samp.add_argument("--decode", choices=["sample", "argmax"], default="sample", help="stochastic (default) or argmax decoding")
    samp.add_argument("--attempts", type=positive_int, default=1, help="decode each point K times, keep the most frequent valid string")
    samp.add_argument("--temperature", type=positive_float, default=1.0,
                      help="divide the logits by T before sampling (below 1: safer, less diverse; default 1)")
    samp.add_argument("--out", default=None, help="file for the strings (default: samples/ inside the run folder; never overwritten)")
    samp.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    samp.add_argument("--report", default="validity,uniqueness,novelty", help=f"comma list of {','.join(REPORTS)}")
    samp.add_argument("--json", action="store_true", help="print the report as one JSON object")
    samp.add_argument("--plots", action="store_true", help="write PNG figures next to the strings")
    add_workers_option(samp)
    samp.set_defaults(run=run_sample)

    inter = subparsers.add_parser("interpolate", help=summary("interpolate"))
    inter.add_argument("start", metavar="A")
    inter.add_argument("end", metavar="B")
    add_model_option(inter)
    inter.add_argument("--steps", type=positive_int, default=8, help="points including both ends (default 8)")
    inter.add_argument("--decode", choices=["argmax", "sample"], default="argmax")
    inter.set_defaults(run=run_interpolate)


def _add_density_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    hint = default or "gmm for grae/gcvae, prior for the VAEs"
    parser.add_argument("--density", choices=DENSITIES, default=default, help=f"ex-post density (default: {hint})")
    parser.add_argument("--components", type=positive_int, default=10, help="GMM components (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def run_fit(args: argparse.Namespace) -> int:
    """Fit, store, and report the validation log-likelihood."""
    model = load_model(args)
    density = fit_density(model, args.density, args.components, args.seed)
    validation = model.codes("val")
    print(f"fitted {density!r} on {len(model.data.rows('train')):,} training codes of {model.folder}; stored in {model.work_folder}")
    print(f"mean log-likelihood of the {len(validation):,} validation codes: {density.score(validation):.3f}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    """Sample, write the strings, print the report."""
    reports = check_reports(tuple(r.strip() for r in args.report.split(",") if r.strip()))
    if args.out and Path(args.out).exists() and not args.force:
        raise GrammarRAEError(f"{args.out} exists: pass --force to overwrite it, or choose another --out.")
    model = load_model(args)
    kind = args.density or ("prior" if model.network.variational else "gmm")
    density, fitted = run_density(model, kind, args.components, args.seed)
    if fitted:
        print(f"Fitted the {kind} density on the training codes and stored it in {model.work_folder}.", file=sys.stderr)
    progress = sys.stderr.isatty()
    result = sample(model, args.n, density, args.decode, args.attempts, args.seed, progress=progress, temperature=args.temperature)
    out = Path(args.out) if args.out else unused_path(samples_file(model, f"{kind}-n{args.n}-seed{args.seed}"))
    save_lines(out, (s or "" for s in result.strings))
    report = sample_report(model, result.strings, reports, args.workers)
    report |= {"model": str(model.folder), "density": kind, "decode": args.decode, "attempts": args.attempts,
               "temperature": args.temperature, "constraints": model.constraints, "out": str(out)}
    if args.plots:
        report["plots"] = [str(p) for p in sample_figures(model, result.strings, out.with_suffix(""), args.workers)]
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


def print_report(report: dict) -> None:
    """The sample report as a small table."""
    print(f"{report['n']:,} samples from {report['model']} ({report['density']} density, {report['decode']} decoding) -> {report['out']}")
    rows = [("validity", report["validity"]), ("uniqueness", report["uniqueness"])]
    if report.get("novelty") is not None:
        rows.append(("novelty", report["novelty"]))
    for name, value in rows:
        print(f"  {name:<12} {value:.3f}")
    for name, stats in (report.get("properties") or {}).items():
        if stats:
            print(f"  {name:<12} {stats['mean']:.3f} ± {stats['sd']:.3f}")
    for name, value in (report.get("moses") or {}).items():
        if name != "n":
            print(f"  {name:<12} {'n/a (fcd_torch not installed)' if value is None else f'{value:.3f}'}")
    for path in report.get("plots", []):
        print(f"  figure       {path}")


def run_interpolate(args: argparse.Namespace) -> int:
    """Print t and the decoded string for each step."""
    model = load_model(args)
    for t, text in interpolate(model, args.start, args.end, args.steps, args.decode):
        print(f"{t:.3f}\t{text if text is not None else '(no valid string)'}")
    return 0
