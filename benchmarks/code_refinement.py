"""Round trips of refined codes: greedy decoding of codes moved until they decode back, by step budget.

The first ``--n`` ZINC test-split molecules after ``--skip``, given as RDKit's canonical aromatic
SMILES, are encoded and their codes refined (``TrainedModel.encode_refined``) with each budget of
Adam steps, each step size, each hinge margin (``--margins``: logits by which the true rule must
lead) and each loss: ``hinge`` (the project's, ``argmax_margin_terms``) or ``ce`` (the training
cross-entropy, for comparison). A round trip counts where greedy decoding of the
code is the same molecule (canonical SMILES, stereo included). CPU seconds are the process's, at one
thread; "move" is the mean distance from the encoder's code. The last line is the best refined round
trip against the encoder's codes' (steps 0).

    python benchmarks/code_refinement.py --model RUN [--n 200] [--steps 0,50,100,200,400] [--lrs 0.1] [--margins 1] [--losses hinge,ce]
"""

from __future__ import annotations

import argparse
import time
from unittest import mock

import numpy as np
import torch
from _common import gives_back, round_trip_arguments, round_trip_setup

from grammar_rae.generation import refinement
from grammar_rae.models.losses import argmax_margin_terms, reconstruction_terms


def cross_entropy_terms(logits, targets, rule_masks=None, margin=0.0):
    """The training loss in nats per sequence, in place of the hinge (same signature)."""
    loss, _ = reconstruction_terms(logits, targets, rule_masks)
    _, lead = argmax_margin_terms(logits, targets, rule_masks)
    return loss * logits.shape[-1], lead


def hits(decoded: list[str | None], molecules: list[str]) -> float:
    """Share of decodes that are their molecule (canonical SMILES, stereo included)."""
    return float(np.mean(gives_back(decoded, molecules)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    round_trip_arguments(parser, 200)
    parser.add_argument("--steps", default="0,50,100,200,400")
    parser.add_argument("--lrs", default="0.1")
    parser.add_argument("--margins", default=str(refinement.REFINE_MARGIN))
    parser.add_argument("--losses", default="hinge")
    parser.add_argument("--nearest", type=int, default=0, help="also decode each code by nearest of K (0: not)")
    args = parser.parse_args()
    molecules, model = round_trip_setup(args)
    start, _ = model.encode(molecules)
    print(f"{len(molecules)} test molecules of {args.model}")
    nearest = f" round trip, nearest of {args.nearest} |" if args.nearest else ""
    print(f"| loss | margin | step size | steps at most | round trip | move | CPU-s per molecule |{nearest}")
    print("| --- | --- | --- | --- | --- | --- | --- |" + (" --- |" if nearest else ""))
    share = {}
    settings = [
        (loss, margin, lr, steps)
        for loss in args.losses.split(",")
        for margin in map(float, args.margins.split(",") if loss == "hinge" else ["0"])
        for lr in map(float, args.lrs.split(","))
        for steps in sorted({0} | set(map(int, args.steps.split(","))))  # the encoder's codes: the baseline
    ]
    for key in settings:
        loss, margin, lr, steps = key
        if steps == 0 and any(other[3] == 0 for other in share):
            continue  # the encoder's codes: one row
        terms = refinement.argmax_margin_terms if loss == "hinge" else cross_entropy_terms
        started = time.process_time()
        with (
            mock.patch.object(refinement, "argmax_margin_terms", terms),
            mock.patch.object(refinement, "REFINE_MARGIN", margin),
        ):
            codes, _, _ = model.encode_refined(molecules, steps=steps, lr=lr)
        seconds = (time.process_time() - started) / len(molecules)
        share[key] = hits(model.decode(codes, "argmax"), molecules)
        move = float(np.linalg.norm(codes - start, axis=1).mean())
        row = f"| {loss} | {margin:g} | {lr:g} | {steps} | {share[key]:.3f} | {move:.2f} | {seconds:.2f} |"
        if args.nearest:
            generator = torch.Generator().manual_seed(0)
            row += f" {hits(model.decode_nearest(codes, args.nearest, generator=generator), molecules):.3f} |"
        print(row, flush=True)
    best = max((key for key in share if key[3] > 0), key=share.get)
    base = next(value for key, value in share.items() if key[3] == 0)
    print(
        f"refined ({best[0]}, margin {best[1]:g}, step size {best[2]:g}, {best[3]} steps): round trip {share[best]:.3f} against "
        f"the encoder's codes' {base:.3f} ({share[best] / max(base, 1e-9):.1f}x)"
    )


if __name__ == "__main__":
    main()
