"""``grammar-rae encode`` and ``grammar-rae decode``: strings ↔ latent vectors of a trained run."""

from __future__ import annotations

import argparse
import json
import logging
import sys

import numpy as np
import torch

from grammar_rae.cli.commands import summary
from grammar_rae.cli.options import (
    add_candidates_option,
    add_model_option,
    add_refine_option,
    load_model,
    positive_int,
    say_input_form,
)
from grammar_rae.data.reading import read_strings
from grammar_rae.errors import DataError
from grammar_rae.grammar.batch import grammar_of

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``encode`` and ``decode``."""
    encode = subparsers.add_parser("encode", help=summary("encode"))
    add_model_option(encode, decodes=False)
    encode.add_argument("strings", nargs="*", metavar="STRING")
    encode.add_argument("--file", help="a text/CSV file with one string per line")
    add_refine_option(encode, "each code")
    encode.set_defaults(run=run_encode)

    decode = subparsers.add_parser("decode", help=summary("decode"))
    add_model_option(decode)
    decode.add_argument(
        "--file",
        default="-",
        help="JSON lines with a 'z' list each, or - for standard input; encode's output as it is (its error "
        "lines are carried through)",
    )
    decode.add_argument(
        "--decode",
        choices=["argmax", "sample", "beam", "nearest"],
        default="argmax",
        dest="mode",
        help="argmax (default), sample, beam search (grammar models), or nearest: of --candidates decodes "
        "(the greedy one and the rest drawn at T = 0.5), the one whose code lies nearest the vector; it "
        "gives an encoded molecule back 6 to 9 times as often as argmax, at the cost of the candidates, where the "
        "vector is the encoder's code (encode --refine 0; refined codes decode back by argmax, docs/latent-space.md)",
    )
    decode.add_argument("--beam", type=positive_int, default=5, help="hypotheses kept by --decode beam (default 5)")
    add_candidates_option(decode)
    decode.add_argument("--seed", type=int, default=0, help="seed for --decode sample and nearest")
    decode.set_defaults(run=run_decode)


def run_encode(args: argparse.Namespace) -> int:
    """One JSON object per input: ``{"input": s, "z": [...], "decodes_back": b}`` (whether greedy
    decoding of z gives the input back) or ``{"input": s, "error": why}``; for molecules also
    ``"read_as"``, the input in the model's form (what was encoded)."""
    texts = list(args.strings) + (read_strings(args.file)[1] if args.file else [])
    if not texts:
        raise DataError("Nothing to encode: give strings as arguments or --file FILE.")
    model = load_model(args, grammar_of(texts[:100]) if args.model is None else None)
    forms = say_input_form(model, texts)
    codes, back, errors = model.encode_refined(texts, steps=args.refine)
    for i, (text, form) in enumerate(zip(texts, forms)):
        record = {"input": text} | ({"read_as": form} if model.input_form is not None and i not in errors else {})
        if i in errors:
            record["error"] = errors[i]
        else:
            record |= {"z": [round(float(v), 6) for v in codes[i]], "decodes_back": bool(back[i])}
        print(json.dumps(record))
    done = len(texts) - len(errors)
    if done:  # where nothing was encoded, the errors above say why and a count would say nothing
        logger.info(f"Greedy decoding gives the string back from {int(back.sum())} of {done} codes.")
    return 1 if errors else 0


def run_decode(args: argparse.Namespace) -> int:
    """One JSON object per input line: ``{"z": [...], "output": s or null}`` (with the line's
    ``"input"`` where it has one, as ``encode`` writes), or, for a line of ``encode``'s that holds
    an error instead of a code, that line as it is: so ``encode ... | decode`` keeps every row."""
    try:
        handle = sys.stdin if args.file == "-" else open(args.file)
    except OSError as exc:
        raise DataError(f"Cannot read {args.file}: {exc.strerror}.") from exc
    try:
        with handle:
            records = [json.loads(line) for line in handle if line.strip()]
        vectors = [r["z"] for r in records if not _encode_error(r)]
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise DataError(f"Each input line must be a JSON object with a 'z' list ({exc}).") from exc
    if not vectors:
        why = ": encode could encode none of its strings" if records else ""
        raise DataError(f"{args.file} holds no latent vectors{why}.")
    model = load_model(args)
    try:
        z = np.asarray(vectors, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise DataError(f"Latent vectors must be lists of {model.latent_dim} numbers ({exc}).") from exc
    if z.ndim != 2 or z.shape[1] != model.latent_dim:
        raise DataError(f"Latent vectors must have {model.latent_dim} numbers each.")
    bad = np.flatnonzero(~np.isfinite(z).all(axis=1))
    if bad.size:
        raise DataError(f"Latent vector {bad[0] + 1} (of {len(z)}) holds NaN or infinity; every number must be finite.")
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    outputs = iter(model.decode(z, mode=args.mode, generator=generator, beam=args.beam, candidates=args.candidates))
    for record in records:
        if _encode_error(record):
            print(json.dumps(record))
        else:
            given = {"input": record["input"]} if "input" in record else {}
            print(json.dumps(given | {"z": record["z"], "output": next(outputs)}))
    failed = len(records) - len(vectors)
    if failed:
        logger.info(f"{failed} of {len(records)} lines are encode's errors, carried through as they are.")
    return 1 if failed else 0


def _encode_error(record: object) -> bool:
    """Whether a line is one ``encode`` wrote for a string it could not encode."""
    return isinstance(record, dict) and "error" in record and "z" not in record
