"""Argument definitions shared by several sub-commands (light imports: every command loads this)."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from grammar_rae.grammar.cfg import builtin_grammars
from grammar_rae.grammar.constraints import CONSTRAINT_SETTINGS

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from grammar_rae.generation.trained import TrainedModel


def add_grammar_option(
    parser: argparse.ArgumentParser, default: str | None = "smiles", default_text: str | None = None
) -> None:
    """``--grammar smiles|expr|PATH``; ``default_text`` describes a None default."""
    parser.add_argument(
        "--grammar",
        default=default,
        metavar="|".join(builtin_grammars()) + "|PATH",
        help=f"a shipped grammar or the path of a .cfg grammar file (default: {default_text or default})",
    )


THREADS_HELP = (
    "torch threads (default: torch's choice, one per core); give 1 to each of several jobs sharing the cores: "
    "jobs whose threads outnumber the cores wait on each other and run many times slower, see docs/training.md"
)


def add_threads_option(parser: argparse.ArgumentParser, help_text: str = THREADS_HELP) -> None:
    """``--threads N``: how many threads torch computes with."""
    parser.add_argument("--threads", type=positive_int, default=None, help=help_text)


def apply_threads(args: argparse.Namespace) -> None:
    """Set torch's thread count from ``--threads`` (left alone without it)."""
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def add_candidates_option(parser: argparse.ArgumentParser) -> None:
    """``--candidates K``: decodes compared by ``--decode nearest``."""
    parser.add_argument(
        "--candidates",
        type=positive_int,
        default=100,
        help="decodes per point compared by --decode nearest (default 100)",
    )


def add_refine_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--refine STEPS``: how far codes of the given strings are refined (``TrainedModel.encode_refined``)."""
    from grammar_rae.generation.refinement import REFINE_STEPS  # only the commands that refine load torch

    parser.add_argument(
        "--refine",
        type=non_negative_int,
        default=REFINE_STEPS,
        metavar="STEPS",
        help=f"refine {what}: each is moved, with the decoder fixed, by at most STEPS gradient steps until greedy "
        f"decoding gives its string back (default {REFINE_STEPS}, about 3 CPU-seconds a string on the shipped model; "
        "greedy round trips of ZINC test molecules 0.02 without, 0.70 with, docs/latent-space.md); 0 keeps the "
        "encoder's codes",
    )


def add_workers_option(parser: argparse.ArgumentParser) -> None:
    """``--workers N``."""
    parser.add_argument("--workers", type=positive_int, default=None, help="processes to use (default: all cores)")


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer ≥ 0."""
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must not be negative")
    return value


def positive_ints(text: str) -> list[int]:
    """argparse type: comma-separated integers ≥ 1, e.g. ``64,64,64``."""
    return [positive_int(part.strip()) for part in text.split(",")]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def non_negative_float(text: str) -> float:
    """argparse type: a finite number ≥ 0."""
    value = _number(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number of at least 0")
    return value


def quantile(text: str) -> float:
    """argparse type: a number in [0, 1)."""
    value = _number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be a quantile in [0, 1), e.g. 0.01")
    return value


def fraction(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} must be a share between 0 and 1, e.g. 0.5")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0."""
    value = _number(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive finite number")
    return value


def similarity_value(text: str) -> float:
    """argparse type: a similarity, a number from 0 to 1."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} must be a similarity from 0 to 1")
    return value


def add_model_option(parser: argparse.ArgumentParser, decodes: bool = True, threads_help: str = THREADS_HELP) -> None:
    """``--model RUN`` (default: the most recent run in runs/, else a shipped model), ``--device``,
    ``--threads`` and, for commands that decode, ``--constraints``."""
    parser.add_argument(
        "--model",
        default=None,
        metavar="RUN",
        help="run folder of a trained model or pretrained:NAME (default: the most recent run in runs/; "
        "without one, the shipped pretrained model)",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    add_threads_option(parser, threads_help)
    if not decodes:
        return
    parser.add_argument(
        "--constraints",
        choices=CONSTRAINT_SETTINGS,
        default="auto",
        help="auto: decode with the grammar's semantic constraints where it has them (SMILES: ring "
        "bonds and valences); none: the grammar mask only (default auto)",
    )


def load_model(args: argparse.Namespace, grammar: str | None = None) -> TrainedModel:
    """The model ``--model`` names (default: the latest run of ``grammar``, else the shipped
    model for it), saying which one is used; first, torch's threads are set from ``--threads`` and
    denormal floats are flushed to zero on all of them (``main`` restores the default)."""
    import torch

    from grammar_rae.generation.pretrained import is_shipped
    from grammar_rae.generation.trained import TrainedModel, find_run

    # before torch starts its threads, which take the setting from this one: decoders flush denormal
    # floats on their own thread only, and a long-trained GRU decodes 2x faster with them flushed
    torch.set_flush_denormal(True)
    apply_threads(args)
    folder = find_run(args.model, grammar=grammar)
    if args.model is None and is_shipped(folder):
        logger.info(f"No trained run in runs/: using the shipped pretrained:{folder.name} (--model to choose another).")
    elif args.model is None:
        logger.info(f"Using the most recent run: {folder}")
    return TrainedModel.load(folder, args.device, getattr(args, "constraints", "auto"))


def say_input_form(model: TrainedModel, strings: list[str]) -> list[str]:
    """The strings in the model's form (see ``TrainedModel.in_model_form``); says once, on standard
    error, how many were rewritten, so that a user who wrote aromatic SMILES knows what was read."""
    forms, _ = model.in_model_form(strings)
    rewritten = sum(form != text for form, text in zip(forms, strings))
    if model.input_form is not None and rewritten:
        logger.info(
            f"Read as {model.input_form}, the form the model was trained on: {rewritten} of {len(strings)} "
            f"input{'s' if len(strings) != 1 else ''} rewritten."
        )
    return forms
