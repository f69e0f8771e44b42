"""``grammar-rae fit-density``, ``sample`` and ``interpolate``: generating from a trained run."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from grammar_rae.cli.commands import summary
from grammar_rae.cli.options import (
    add_candidates_option,
    add_model_option,
    add_refine_option,
    add_workers_option,
    load_model,
    positive_float,
    positive_int,
    say_input_form,
    similarity_value,
)
from grammar_rae.data.reading import check_output_format, write_strings
from grammar_rae.data.validity import canonical_many
from grammar_rae.errors import GrammarRAEError
from grammar_rae.evaluation.plots import sample_figures
from grammar_rae.evaluation.protocol import REPORTS, check_reports, sample_report
from grammar_rae.generation.density import (
    DENSITIES,
    KERNEL_BANDWIDTH,
    KERNEL_CENTRES,
    LatentDensity,
    default_components,
)
from grammar_rae.generation.interpolation import interpolate
from grammar_rae.generation.sampling import (
    default_density,
    faithfulness,
    fit_density,
    run_density,
    sample,
    samples_file,
)
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.grammar.batch import grammar_of

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``fit-density``, ``sample`` and ``interpolate``."""
    fit = subparsers.add_parser(
        "fit-density",
        help=summary("fit-density"),
        description="Fit a density to the latent codes of the training split (posterior means for VAEs) "
        "and store it in the run folder as plain arrays.",
    )
    add_model_option(fit, decodes=False)
    _add_density_options(fit, default="gmm")
    fit.set_defaults(run=run_fit)

    samp = subparsers.add_parser(
        "sample",
        help=summary("sample"),
        description="Draw latent points from an ex-post density (fitted on demand), decode them with the "
        "grammar-masked decoder, write a CSV with each string and whether it is valid (columns string, "
        "valid; an empty string where the decoder finished no derivation) and print a report that says "
        "how many are valid.",
    )
    add_model_option(samp)
    samp.add_argument("--n", type=positive_int, default=1000, help="number of samples (default 1000)")
    _add_density_options(samp, default=None)
    samp.add_argument(
        "--decode",
        choices=["argmax", "sample", "beam"],
        default="argmax",
        help="argmax (default: the most probable rule at each step; chosen by measurement, on the shipped "
        "ZINC model FCD 5.25 against 8.34 sampled, docs/latent-space.md), sample (each rule drawn), or beam "
        "(a beam of 5 per point: FCD 4.00, 6x slower)",
    )
    samp.add_argument(
        "--attempts",
        type=positive_int,
        default=1,
        help="with --decode sample: decode each point K times, keep the most frequent valid string",
    )
    samp.add_argument(
        "--temperature",
        type=positive_float,
        default=1.0,
        help="with --decode sample: divide the logits by T before sampling (below 1: safer, less diverse; default 1)",
    )
    samp.add_argument(
        "--out",
        default=None,
        help="file for the strings, in the format its name says: .csv/.tsv (columns "
        "string, valid) or .smi/.smiles/.txt (a string per line with valid or invalid as its title, "
        "after a space, or a tab in .txt; RDKit's SmilesMolSupplier reads .smi with titleLine=False); "
        "default: samples/ inside the run folder, "
        "named by the settings (the same settings give the same file)",
    )
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
    inter.add_argument(
        "--decode",
        choices=["argmax", "sample", "nearest"],
        default="argmax",
        help="argmax (default), sample, or nearest: of --candidates decodes of each point, the one whose code "
        "lies nearest it (gives the ends back far more often)",
    )
    add_candidates_option(inter)
    add_refine_option(inter, "the codes of A and B (not with --decode nearest, which needs the encoder's codes)")
    inter.set_defaults(run=run_interpolate)


def _add_density_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    hint = default or (
        "kernel for grae/gcvae: a training code (for molecules one that decodes faithfully, --faithful) plus a "
        "little noise, chosen by measurement: on ZINC FCD 1.0 against the 10-component GMM's 5.4, "
        "docs/latent-space.md; prior for the VAEs"
    )
    parser.add_argument("--density", choices=DENSITIES, default=default, help=f"ex-post density (default: {hint})")
    parser.add_argument(
        "--components",
        type=positive_int,
        default=None,
        help=f"GMM components (default 10), or training codes a kernel density keeps (default {KERNEL_CENTRES:,})",
    )
    parser.add_argument(
        "--bandwidth",
        type=positive_float,
        default=KERNEL_BANDWIDTH,
        help="kernel density: the noise around a kept code, as a multiple of the codes' spread "
        f"(default {KERNEL_BANDWIDTH:g}; larger: more novel, less like the data)",
    )
    parser.add_argument(
        "--faithful",
        type=similarity_value,
        default=None,
        metavar="T",
        help="kernel density: keep only training codes whose greedy decode has a similarity of at least T "
        "to their own string (molecules: Morgan Tanimoto of the molecules, else the same string or not); "
        "on ZINC 0.4 brings the samples' FCD from 1.43 to 1.00 and SA W1 from 0.35 to 0.11, docs/latent-space.md "
        "(default: 0.4 for molecules, 0 (every code) for other languages)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def run_fit(args: argparse.Namespace) -> int:
    """Fit, store, and report the validation log-likelihood."""
    check_density_settings(args, args.density)
    model = load_model(args)
    density = with_bandwidth(fit_density(model, args.density, args.components, args.seed, faithful=args.faithful), args)
    validation = model.codes("val")
    codes = f"{len(model.data.rows('train')):,} training codes"
    if density.faithful:
        codes = f"{density.components:,} of the {codes} (the first found, in random order, that decode faithfully)"
    print(f"fitted {density!r} on {codes} of {model.folder}; stored in {model.work_folder}")
    print(f"mean log-likelihood of the {len(validation):,} validation codes: {density.score(validation):.3f}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    """Sample, write the strings, print the report."""
    reports = check_reports(tuple(r.strip() for r in args.report.split(",") if r.strip()))
    if args.n > MAX_SAMPLES:
        raise GrammarRAEError(
            f"--n {args.n:,} is more than one run samples (at most {MAX_SAMPLES:,}): "
            "run several with different --seed values."
        )
    if args.decode != "sample" and (args.attempts != 1 or args.temperature != 1.0):
        raise GrammarRAEError(
            f"--{'attempts' if args.attempts != 1 else 'temperature'} changes sampled decoding only, and "
            f"{args.decode} decoding {'is the default' if args.decode == 'argmax' else 'was asked for'}: "
            "add --decode sample."
        )
    if args.out:
        check_writable(Path(args.out), args.force)
    model = load_model(args)
    kind = args.density or default_density(model)
    check_density_settings(args, kind)
    density, fitted = run_density(model, kind, args.components, args.seed, args.faithful)
    if fitted:
        logger.info(f"Fitted the {kind} density on the training codes and stored it in {model.work_folder}.")
    density = with_bandwidth(density, args)
    result = sample(model, args.n, density, args.decode, args.attempts, args.seed, temperature=args.temperature)
    out = Path(args.out) if args.out else samples_file(model, _sample_name(args, kind, model)).with_suffix(".csv")
    report = sample_report(model, result.strings, reports, args.workers)
    valid = report.pop("valid_rows")
    write_strings(out, result.strings, valid)
    if args.json:
        report["strings"] = [{"string": s or "", "valid": ok} for s, ok in zip(result.strings, valid)]
    report |= {
        "model": str(model.folder),
        "density": kind,
        "faithful": density.faithful,
        "decode": args.decode,
        "attempts": args.attempts,
        "temperature": args.temperature,
        "constraints": model.constraints,
        "out": str(out),
    }
    if args.plots:
        report["plots"] = [str(p) for p in sample_figures(model, result.strings, out.with_suffix(""), args.workers)]
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


def check_density_settings(args: argparse.Namespace, kind: str) -> None:
    """Refuse settings that the density asked for does not have, before any work."""
    if args.bandwidth != KERNEL_BANDWIDTH and kind != "kernel":
        raise GrammarRAEError(
            f"--bandwidth sets a kernel density's noise, and the {kind} density was asked for: add --density kernel."
        )
    if args.faithful is not None and kind != "kernel":
        raise GrammarRAEError(
            f"--faithful chooses a kernel density's codes, and the {kind} density was asked for: add --density kernel."
        )
    if args.components is not None and kind not in ("gmm", "kernel"):
        raise GrammarRAEError(f"--components sets a GMM or a kernel density, and the {kind} density has one component.")


def with_bandwidth(density: LatentDensity, args: argparse.Namespace) -> LatentDensity:
    """The density with the command's ``--bandwidth`` where it is a kernel: the stored file keeps the
    codes, the noise around them is each command's setting."""
    if density.kind == "kernel":
        density.bandwidth = args.bandwidth
    return density


MAX_SAMPLES = 10_000_000  # a run holds every latent point and string in memory at once


def check_writable(path: Path, force: bool) -> None:
    """Refuse an output file that cannot be written, or whose name says no format, before any work is done."""
    if path.is_dir():
        raise GrammarRAEError(f"--out {path} is a folder: give a file name.")
    check_output_format(path)
    if path.exists() and not force:
        raise GrammarRAEError(f"{path} exists: pass --force to overwrite it, or choose another --out.")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise GrammarRAEError(f"Cannot write {path}: {parent} is not a writable folder.")
    try:  # the folder is made now, so that a place where none can be made is refused before the work
        path.absolute().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GrammarRAEError(f"Cannot write {path}: its folder cannot be made ({exc.strerror}).") from exc


def _sample_name(args: argparse.Namespace, kind: str, model: TrainedModel) -> str:
    """The default file name: every setting that changes the samples, so a rerun with the same
    settings rewrites the same (identical) file and other settings never overwrite it."""
    name = f"{kind}-n{args.n}-seed{args.seed}"
    if args.decode != "argmax":
        name += f"-{args.decode}"
    if args.attempts != 1:
        name += f"-attempts{args.attempts}"
    if args.temperature != 1.0:
        name += f"-t{args.temperature:g}"
    if args.components not in (None, default_components(kind)):
        name += f"-k{args.components}"
    if args.bandwidth != KERNEL_BANDWIDTH:
        name += f"-h{args.bandwidth:g}"
    if args.faithful not in (None, faithfulness(model, kind)):
        name += f"-faithful{args.faithful:g}"
    return name + ("-unconstrained" if model.constraints in (None, "none") else "")


def print_report(report: dict) -> None:
    """The sample report as a small table."""
    faithful = f" on codes that decode faithfully ({report['faithful']:g})" if report.get("faithful") else ""
    print(
        f"{report['n']:,} samples from {report['model']} ({report['density']} density{faithful}, "
        f"{report['decode']} decoding) -> {report['out']}"
    )
    print(
        f"  {report['valid']:,} of {report['n']:,} are valid"
        + ("" if report["valid"] == report["n"] else "; the file's 'valid' column marks each one")
    )
    rows = [("validity", report["validity"]), ("uniqueness", report["uniqueness"])]
    if report.get("novelty") is not None:
        rows.append(("novelty", report["novelty"]))
    for name, value in rows:
        print(f"  {name:<12} {value:.3f}")
    for name, stats in (report.get("properties") or {}).items():
        if stats:
            print(f"  {name:<12} {stats['mean']:.3f} ± {stats['sd']:.3f}")
    moses = report.get("moses") or {}
    why = moses.get("missing", {})
    for name, value in moses.items():
        if name not in ("n", "missing"):
            print(f"  {name:<12} " + (f"n/a: {why.get(name, 'not computed')}" if value is None else f"{value:.3f}"))
    for path in report.get("plots", []):
        print(f"  figure       {path}")
    if report.get("missing"):
        print(f"  {' and '.join(report['missing'])}: {next(iter(report['missing'].values()))}.")


def run_interpolate(args: argparse.Namespace) -> int:
    """Print t, the decoded string and whether it is valid for each step; for molecules also the
    RDKit canonical SMILES, marked where it is the molecule of either end."""
    model = load_model(args, grammar_of([args.start, args.end]) if args.model is None else None)
    say_input_form(model, [args.start, args.end])
    path = interpolate(model, args.start, args.end, args.steps, args.decode, args.candidates, args.refine)
    grammar = model.grammar.name
    canonical = canonical_many(grammar, [text for _, text in path], workers=1)
    ends = canonical_many(grammar, [args.start, args.end], workers=1)
    for (t, text), form in zip(path, canonical):
        columns = [f"{t:.3f}", text if text is not None else "(no complete string)", "valid" if form else "INVALID"]
        if model.input_form is not None:  # molecules: what users compare
            columns.append((form or "") + (" (= A)" if form == ends[0] else " (= B)" if form == ends[1] else ""))
        print("\t".join(columns))
    valid = sum(form is not None for form in canonical)
    print(
        f"{valid} of {len(path)} points decode to valid strings; the path starts at A: "
        f"{'yes' if canonical[0] == ends[0] else 'no'}, ends at B: {'yes' if canonical[-1] == ends[1] else 'no'}.",
        file=sys.stderr,
    )
    return 0
