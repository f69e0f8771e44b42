"""``grammar-rae train``: train one of the four models into a run folder."""

from __future__ import annotations

import argparse
import textwrap

from grammar_rae.cli.commands import summary
from grammar_rae.cli.options import (
    add_grammar_option,
    add_threads_option,
    add_workers_option,
    apply_threads,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    positive_ints,
)
from grammar_rae.evaluation.reconstruction import reconstruction_accuracy
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.models.config import (
    DECODERS,
    ENCODERS,
    MODELS,
    REGULARISERS,
    preset_epoch_minutes,
    preset_names,
    presets,
    shipped_recipe,
)
from grammar_rae.run_folder import split_strings
from grammar_rae.training.api import train

# flag → (setting, type, help)
_OVERRIDES = {
    "--epochs": ("epochs", positive_int, "training epochs"),
    "--batch-size": ("batch_size", positive_int, "sequences per batch"),
    "--latent-dim": ("latent_dim", positive_int, "latent size"),
    "--hidden": ("gru_hidden", positive_int, "GRU width of the decoder"),
    "--layers": ("gru_layers", positive_int, "GRU layers of the decoder"),
    "--embedding-dim": (
        "embedding_dim",
        positive_int,
        "size of the rule embeddings (autoregressive decoder, GRU encoder)",
    ),
    "--encoder-gru-hidden": ("encoder_gru_hidden", positive_int, "width of each direction of the GRU encoder"),
    "--conv-filters": (
        "conv_filters",
        positive_ints,
        "filters of each convolution of the conv encoder, comma-separated (the papers': 9,9,10)",
    ),
    "--word-dropout": (
        "word_dropout",
        non_negative_float,
        "chance that the autoregressive decoder reads the start symbol instead of the previous rule in training",
    ),
    "--max-molecules": ("max_molecules", positive_int, "use only the first N strings of the data"),
    "--lr": ("lr", positive_float, "initial learning rate (default 1e-3)"),
    "--warmup-steps": (
        "warmup_steps",
        non_negative_int,
        "raise the learning rate linearly over the first N steps (default 0)",
    ),
    "--precision": ("precision", str, "auto (bf16 on GPUs that have it), bf16 or fp32"),
    "--patience": ("patience", non_negative_int, "reduce-on-plateau patience in epochs"),
    "--beta": ("beta", non_negative_float, "weight of the latent penalty (KL or ½‖z‖²)"),
    "--lam": ("lam", non_negative_float, "weight of GRAE's regulariser"),
    "--noise-std": ("noise_std", non_negative_float, "reparameterisation noise std (VAEs) or fixed σ (GCVAE)"),
    "--seed": ("seed", int, "random seed (default 0)"),
    "--test-size": ("test_size", non_negative_int, "test strings taken from the start of the data (default 5000)"),
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train``."""
    parser = subparsers.add_parser(
        "train",
        help=summary("train"),
        description="Train a model with a preset (every value can be overridden). Without --preset, the "
        "recipe of the model the package ships for the grammar is trained again. The run folder keeps "
        "the config, the best-validation weights, the full training state and a metrics log; "
        "Ctrl-C saves, and --resume continues exactly where the run stopped.",
        epilog=presets_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_grammar_option(parser, default=None, default_text="smiles; with --resume: the run's")
    parser.add_argument(
        "--model",
        choices=MODELS,
        default=None,
        help="which model (default: the shipped model's, grae; with --resume: the run's)",
    )
    parser.add_argument("--reg", choices=REGULARISERS, default=None, help="GRAE regulariser (default: l2)")
    parser.add_argument(
        "--decoder",
        choices=DECODERS,
        default=None,
        help="repeat (the papers': z at every step) or autoregressive (each step also reads the rule "
        "chosen before); default: the preset's",
    )
    parser.add_argument(
        "--encoder",
        choices=ENCODERS,
        default=None,
        help="conv (the papers' convolutions) or gru (a bidirectional GRU over the rules); default: the preset's",
    )
    parser.add_argument(
        "--kekule",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train on the Kekulé forms of the molecules (no aromatic atoms; SMILES only); "
        "default: the preset's (yes for cpu-ar)",
    )
    parser.add_argument("--data", default=None, help="data file or data set name (default: the grammar's data set)")
    parser.add_argument("--out", default=None, help="run folder (default: runs/<model>-<grammar>-<time>)")
    parser.add_argument(
        "--preset",
        choices=preset_names(),
        default=None,
        help="settings preset (default: the recipe of the model shipped for the grammar; see below)",
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    parser.add_argument("--no-eval", action="store_true", help="skip the test-set reconstruction check at the end")
    for flag, (_, kind, text) in _OVERRIDES.items():
        parser.add_argument(flag, type=kind, default=None, help=text)
    add_workers_option(parser)
    add_threads_option(parser)
    parser.set_defaults(run=run)


def presets_help() -> str:
    """The presets, one paragraph each: what it is and its measured minutes per epoch."""
    lines = ["presets (minutes per epoch measured at one thread of a 2-core CPU, benchmarks/preset_epoch_time.py):"]
    shipped = {grammar: shipped_recipe(grammar)[0] for grammar in ("smiles", "expr")}
    for name in preset_names():
        minutes = ", ".join(
            f"{grammar} {preset_epoch_minutes(name, grammar):g} min"
            for grammar in ("smiles", "expr")
            if preset_epoch_minutes(name, grammar) is not None
        )
        default = [grammar for grammar, preset in shipped.items() if preset == name]
        lines.append(
            f"  {name}{' (default for ' + ' and '.join(default) + ')' if default else ''}: "
            f"{presets()[name]['description']}{' Per epoch: ' + minutes + '.' if minutes else ''}"
        )
    return "\n".join(textwrap.fill(line, 100, subsequent_indent="    ") for line in lines)


def run(args: argparse.Namespace) -> int:
    """Train, then report the best epoch and the test reconstruction accuracy."""
    overrides = {setting: getattr(args, flag[2:].replace("-", "_")) for flag, (setting, _, _) in _OVERRIDES.items()}
    apply_threads(args)
    result = train(
        args.grammar,
        args.model,
        data=args.data,
        out=args.out,
        preset=args.preset,
        resume=args.resume,
        device=args.device,
        workers=args.workers,
        reg=args.reg,
        decoder=args.decoder,
        encoder=args.encoder,
        kekule=args.kekule,
        **overrides,
    )
    if not result.world.is_main:
        return 0
    best = result.best
    print(f"run:        {result.folder}")
    print(
        f"best epoch: {best['epoch']} (validation loss {best['val_loss']:.4f}, teacher-forced accuracy {best['val_accuracy']:.3f})"
    )
    print(f"time:       {sum(m['seconds'] for m in result.metrics) / 60:.1f} min over {len(result.metrics)} epochs")
    if not args.no_eval:
        model = TrainedModel.load(result.folder, args.device)
        test = split_strings(result.folder, "test")
        if test:
            rec = reconstruction_accuracy(model, test)
            print(f"test reconstruction (argmax decode, exact match): {rec.accuracy:.4f} on {rec.n:,} strings")
    return 0
