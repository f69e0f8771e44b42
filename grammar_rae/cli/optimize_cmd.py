"""``grammar-rae optimize`` and ``grammar-rae score``: objectives and latent Bayesian optimisation."""

from __future__ import annotations

import argparse
import json
import logging
import math

from grammar_rae.cli.commands import summary
from grammar_rae.cli.options import add_model_option, load_model, positive_int, quantile
from grammar_rae.data.reading import read_strings
from grammar_rae.data.validity import valid_mask
from grammar_rae.errors import DataError, GrammarRAEError
from grammar_rae.grammar.batch import parse_many
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.objectives.registry import companion_objectives, get_objective, objective_names
from grammar_rae.optimization.acquisition import ACQUISITIONS, SEARCHES
from grammar_rae.optimization.bo import optimize
from grammar_rae.optimization.records import objective_folder
from grammar_rae.optimization.report import mean_sem_text, optimization_figures, rescore
from grammar_rae.optimization.settings import DEFAULT_INITIAL, STARTS, BOSettings
from grammar_rae.optimization.surrogate import SurrogateSettings

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``optimize`` and ``score``."""
    opt = subparsers.add_parser(
        "optimize",
        help=summary("optimize"),
        description="Sparse-GP batch-EI Bayesian optimisation in the latent space of a trained run "
        "(protocol: 5 iterations × 50 points, seeds 1-10), with a random-sampling baseline. "
        "Every seed's results are saved after each iteration; --resume continues.",
    )
    add_model_option(
        opt,
        threads_help="torch threads (recorded with every iteration: the same seed, settings and thread "
        "count give the same proposals; default: torch's choice; 1 for each of several jobs sharing the cores)",
    )
    opt.add_argument("--objective", required=True, help=f"{', '.join(objective_names())}, or module:function")
    opt.add_argument("--minimize", action="store_true", help="for a module:function objective: lower is better")
    opt.add_argument("--iterations", type=positive_int, default=5)
    opt.add_argument("--batch", type=positive_int, default=50, help="points per iteration (default 50)")
    opt.add_argument("--seeds", default="1-10", help="e.g. 1-10 or 1,4,7 (default 1-10)")
    opt.add_argument(
        "--attempts", type=positive_int, default=None, help="decodes per point (default 500 molecules, 25 expressions)"
    )
    opt.add_argument("--decode", choices=["sample", "argmax"], default="sample")
    opt.add_argument(
        "--gp-epochs",
        type=positive_int,
        default=None,
        help=f"GP training epochs at the first iteration (default {SurrogateSettings.epochs})",
    )
    opt.add_argument(
        "--gp-warm-epochs",
        type=positive_int,
        default=None,
        help=f"GP epochs at later iterations (default {SurrogateSettings.warm_epochs})",
    )
    opt.add_argument(
        "--inducing", type=positive_int, default=None, help=f"inducing points (default {SurrogateSettings.inducing})"
    )
    opt.add_argument(
        "--restarts",
        type=positive_int,
        default=None,
        help="acquisition optimiser restarts (default: 2 greedy, 4 joint)",
    )
    opt.add_argument(
        "--search",
        choices=SEARCHES,
        default=BOSettings.search,
        help="find the batch of EI greedily one point at a time, as the Grammar VAE did (default), or jointly",
    )
    opt.add_argument(
        "--acquisition",
        choices=ACQUISITIONS,
        default=BOSettings.acquisition,
        help="ei: plain batch EI, the papers' (default); floor-ei: EI with every point kept where the "
        "ex-post GMM's log-density is above --density-floor; weighted-ei: EI × sigmoid(log p(z) − floor), "
        "a soft version of the same region (log EI minus softplus(floor − log p))",
    )
    opt.add_argument(
        "--density-floor",
        type=quantile,
        default=BOSettings.density_floor,
        metavar="Q",
        help="the data region's edge: the lower of the Q quantiles of the log-density of the training codes and "
        "of the density's own samples (default 0.01: at least 99%% of each lie above it); also reports how "
        "many proposals of any acquisition fall below it",
    )
    opt.add_argument(
        "--start",
        choices=STARTS,
        default="density",
        help="what the surrogate starts from: density (default) draws --initial points from the model's "
        "ex-post density, decodes them greedily and scores them (offline, any objective, calls counted); "
        "training is the protocol's start, every training molecule scored once and cached (needs the "
        "training set; what reproduce uses)",
    )
    opt.add_argument(
        "--initial",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"starting points to score: density draws (default {DEFAULT_INITIAL}), or with --start training "
        "a random N of the training molecules instead of all of them",
    )
    opt.add_argument("--no-baseline", action="store_true", help="skip the random-sampling baseline")
    opt.add_argument("--resume", action="store_true", help="continue seeds that already have results")
    opt.add_argument(
        "--rescore",
        action="store_true",
        help="run no BO: score the saved proposals of every seed again with the objective as defined now "
        "(e.g. after its statistics changed) and rewrite the summary",
    )
    opt.add_argument("--plots", action="store_true", help="best-so-far curves and an image of the top strings")
    opt.add_argument("--json", action="store_true", help="print optimization.json")
    opt.set_defaults(run=run_optimize)

    score = subparsers.add_parser("score", help=summary("score"))
    score.add_argument("--objective", required=True, help=f"{', '.join(objective_names())}, or module:function")
    score.add_argument("strings", nargs="*", metavar="STRING")
    score.add_argument("--file", help="a text/CSV file with one string per line")
    score.add_argument(
        "--grammar", default=None, help="language of the strings for the validity flag (default: the objective's)"
    )
    score.add_argument("--json", action="store_true", help='one JSON object per input: {"input", "score", "valid"}')
    score.set_defaults(run=run_score)


def parse_seeds(text: str) -> list[int]:
    """``1-10`` or ``1,4,7`` (or a mix) as a sorted list of seeds."""
    seeds: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            seeds.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise GrammarRAEError(f"--seeds {text!r} is not a list like 1-10 or 1,4,7.") from None
    if not seeds:
        raise GrammarRAEError(f"--seeds {text!r} names no seed.")
    if min(seeds) < 1:
        raise GrammarRAEError(
            f"--seeds {text!r} names seed {min(seeds)}: seeds are numbered from 1, as in the protocol (1-10)."
        )
    return sorted(seeds)


def run_optimize(args: argparse.Namespace) -> int:
    """Run the BO protocol and print the table."""
    seeds = parse_seeds(args.seeds)
    objective = get_objective(args.objective, maximize=not args.minimize)
    defaults = SurrogateSettings()
    surrogate = SurrogateSettings(
        inducing=args.inducing or defaults.inducing,
        epochs=args.gp_epochs or defaults.epochs,
        warm_epochs=args.gp_warm_epochs or defaults.warm_epochs,
    )
    initial = args.initial or (DEFAULT_INITIAL if args.start == "density" else None)
    settings = BOSettings(
        iterations=args.iterations,
        batch=args.batch,
        attempts=args.attempts,
        decode=args.decode,
        search=args.search,
        restarts=args.restarts,
        surrogate=surrogate,
        acquisition=args.acquisition,
        density_floor=args.density_floor,
        start=args.start,
        initial=initial,
    )  # checked before the model loads
    model = load_model(args, objective.grammar)
    objective.check_grammar(model.grammar.name)
    if args.start == "density":
        logger.info(
            f"BO starts from {initial} points drawn from the model's ex-post density and scored (--start training: "
            "the protocol's start from every training molecule)."
        )
    folder = objective_folder(model, objective, settings)
    extra = [get_objective(name) for name in companion_objectives(objective.name)]
    started = sorted(folder.glob("seed-*.json")) if folder.is_dir() else []
    if args.rescore:
        result = rescore(folder, objective, extra)
    elif started and not args.resume:
        raise GrammarRAEError(
            f"{folder} already holds BO results ({len(started)} seeds): pass --resume to continue them, or remove the folder."
        )
    else:
        logger.info(f"Optimising {objective.name} with {model.folder} ({model.grammar.name}), seeds {args.seeds}.")
        result = optimize(model, objective, seeds, settings, baseline=not args.no_baseline, extra=extra)
    if args.plots:
        result["plots"] = [str(p) for p in optimization_figures(model, objective, result, settings)]
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0


def print_table(result: dict) -> None:
    """The paper's table: one row per method."""
    print(f"{result['objective']} ({'higher' if result['maximize'] else 'lower'} is better), {result['model']}")
    print(f"{'method':<8} {'fraction valid':>18} {'average score':>18}  top strings")
    for method in ("bo", "random"):
        if method in result:
            row = result[method]
            tops = "; ".join(f"{t['string']} ({t['score']:.2f})" for t in row["top"])
            print(
                f"{method:<8} {mean_sem_text(row['fraction_valid']):>18} {mean_sem_text(row['average_score']):>18}  {tops}"
            )
    if "below_density_floor" in result["bo"]:
        print(
            f"BO proposals below the density floor (--density-floor {BOSettings.from_record(result['settings']).density_floor}): "
            f"{mean_sem_text(result['bo']['below_density_floor'])}"
        )
    surrogate = result["bo"]["surrogate"]
    calls = result["bo"].get("objective_calls")
    if calls:
        print(
            f"objective calls per seed: {calls['start']:,.0f} to score the start, {calls['proposals']:,.0f} proposals"
        )
    print(
        f"surrogate (10% held out): RMSE {mean_sem_text(surrogate['rmse'])}, log-likelihood {mean_sem_text(surrogate['log_likelihood'])}"
    )
    print(
        f"seeds: {', '.join(map(str, result['bo']['seeds']))}; ± is the standard error over seeds (sample std, ddof = 1, over √seeds)"
    )
    for path in result.get("plots", []):
        print(f"figure: {path}")


def run_score(args: argparse.Namespace) -> int:
    """Score strings given as arguments and/or in a file."""
    texts = list(args.strings) + (read_strings(args.file)[1] if args.file else [])
    if not texts:
        raise DataError("Nothing to score: give strings as arguments or --file FILE.")
    objective = get_objective(args.objective)
    valid = _in_language(args.grammar or objective.grammar, texts)
    scores = objective(texts)
    for text, score, ok in zip(texts, scores, valid):
        if args.json:
            print(json.dumps({"input": text, "score": None if math.isnan(score) else float(score), "valid": ok}))
        else:
            print(f"{text}\t{score:.4f}" + ("" if ok is None else f"\t{'valid' if ok else 'invalid'}"))
    return 0


def _in_language(grammar_name: str | None, texts: list[str]) -> list[bool | None]:
    """Whether each string is in the grammar and valid (SMILES: RDKit reads it; expressions: finite
    on the grid); None for every string when neither the objective nor --grammar names a language."""
    if grammar_name is None:
        return [None] * len(texts)
    grammar = Grammar.load(grammar_name)  # an unknown name or a broken file is one sentence here
    parsed = [outcome.ok for outcome in parse_many(grammar, texts, workers=1)]
    semantic = valid_mask(grammar.name, [t if ok else None for t, ok in zip(texts, parsed)])
    return [bool(ok and good) for ok, good in zip(parsed, semantic)]
