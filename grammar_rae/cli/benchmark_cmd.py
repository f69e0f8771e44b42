"""``grammar-rae benchmark pmo``: the PMO benchmark's RDKit-only tasks under a budget of oracle calls."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from grammar_rae.cli.commands import summary
from grammar_rae.cli.options import add_model_option, fraction, load_model, positive_float, positive_int

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``benchmark`` and its ``pmo`` suite."""
    from grammar_rae.optimization.pmo import METHODS, PMOSettings

    bench = subparsers.add_parser("benchmark", help=summary("benchmark"))
    suites = bench.add_subparsers(dest="suite", metavar="SUITE", required=True)
    pmo = suites.add_parser(
        "pmo",
        help="PMO (Gao et al. 2022): 20 tasks, AUC of the top-10 curve against oracle calls",
        description="Each task and seed optimised under a budget of oracle calls, counted as PMO counts them (the "
        "first evaluation of a distinct valid molecule; the starting points count too). Writes the calls (seed-S.csv.gz) per task "
        "and seed after every iteration; --resume continues.",
    )
    add_model_option(pmo)
    defaults = PMOSettings()
    pmo.add_argument("--tasks", default="all", help="all, or a comma list of task names")
    pmo.add_argument(
        "--budget",
        type=positive_int,
        default=defaults.budget,
        help=f"oracle calls per task and seed (default {defaults.budget:,})",
    )
    pmo.add_argument("--seeds", default="1-3", help="e.g. 1-3 or 1,4 (default 1-3)")
    pmo.add_argument(
        "--method",
        choices=METHODS,
        default=defaults.method,
        help="bo: a batch of highest expected improvement among density draws and points near the best molecules "
        "per iteration (default); "
        "random: density draws (the baseline)",
    )
    pmo.add_argument(
        "--batch",
        type=positive_int,
        default=defaults.batch,
        help=f"molecules proposed per iteration (default {defaults.batch})",
    )
    pmo.add_argument(
        "--initial",
        type=positive_int,
        default=defaults.initial,
        help=f"density draws scored first (default {defaults.initial}; they count as calls)",
    )
    pmo.add_argument(
        "--local",
        type=fraction,
        default=defaults.local,
        help=f"bo: share of the candidates drawn near the {defaults.top} best molecules so far, the rest from the "
        f"density (default {defaults.local})",
    )
    pmo.add_argument(
        "--radius",
        type=positive_float,
        default=defaults.radius,
        help="bo: how far those are drawn, in units of each latent coordinate's spread over the calls "
        f"(default {defaults.radius})",
    )
    pmo.add_argument(
        "--explore",
        type=fraction,
        default=defaults.explore,
        help="bo: share of each batch chosen among the density draws alone, so that every iteration also tries "
        f"new regions (default {defaults.explore})",
    )
    pmo.add_argument(
        "--out", type=Path, default=Path("results") / "pmo", help="folder for the runs (default results/pmo)"
    )
    pmo.add_argument("--resume", action="store_true", help="continue task-seeds that have results")
    pmo.add_argument(
        "--plots", action="store_true", help="top-10 curves against calls, a panel per task (top10-curves.png in --out)"
    )
    pmo.add_argument(
        "--json", action="store_true", help='one line: {"tasks": {task: {"auc_top10", "seeds", ...}}, "sum"}'
    )
    pmo.set_defaults(run=run_pmo)


def run_pmo(args: argparse.Namespace) -> int:
    """Run (or resume) the tasks and print the table."""
    from grammar_rae.cli.optimize_cmd import parse_seeds
    from grammar_rae.optimization.pmo import PMOSettings, check_tasks, run_benchmark, top_curves_figure

    tasks, seeds = check_tasks(args.tasks), parse_seeds(args.seeds)
    settings = PMOSettings(
        budget=args.budget,
        method=args.method,
        batch=args.batch,
        initial=args.initial,
        local=args.local,
        radius=args.radius,
        explore=args.explore,
    )
    model = load_model(args, "smiles")
    if model.domain.name != "molecules":
        from grammar_rae.errors import GrammarRAEError

        raise GrammarRAEError(
            f"PMO's tasks score molecules, but {model.folder} generates {model.grammar.name} strings."
        )
    logger.info(
        f"PMO with {model.folder}: {len(tasks)} task(s) × seeds {args.seeds}, {args.budget:,} calls each, "
        f"method {args.method}."
    )
    result = run_benchmark(model, tasks, seeds, settings, args.out, args.resume)
    if args.plots:
        logger.info(f"figure: {top_curves_figure(tasks, seeds, args.out, settings.top)}")
    if args.json:
        print(json.dumps({"tasks": result["tasks"], "sum": result["sum"]}))
        return 0
    print(f"{'task':<26} {'AUC top-10':>12}  seeds")
    for task, row in result["tasks"].items():
        error = "" if row["sem"] is None else f" ± {row['sem']:.3f}"
        print(f"{task:<26} {row['auc_top10']:>6.3f}{error:<8}  " + ", ".join(f"{v:.3f}" for v in row["seeds"]))
    print(f"{'sum':<26} {result['sum']:>6.3f}  (± is the standard error over seeds, sample std)")
    return 0
