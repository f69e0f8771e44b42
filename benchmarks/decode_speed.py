"""Masked decoding speed: the batched decoder vs the per-sample reference loop, same logits.

Decoding logic only (no network): random logits of shape (B, 277, 76) for the SMILES grammar,
Gumbel-max sampling with the same noise for both. The last line is the speed ratio.

    python benchmarks/decode_speed.py [--batch 1000]
"""

from __future__ import annotations

import argparse

import torch
from _common import best_time

from grammar_rae import Grammar
from grammar_rae.generation.decoding import DecodingTables, gumbel_noise, masked_decode, reference_masked_decode
from grammar_rae.models.networks import PrecomputedSteps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000, help="sequences per batch")
    parser.add_argument("--steps", type=int, default=277, help="decoding steps")
    args = parser.parse_args()

    grammar = Grammar.load("smiles")
    tables = DecodingTables(grammar)
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn((args.batch, args.steps, grammar.n_rules), generator=generator) * 3
    noise = gumbel_noise(tables.noise_shape(args.batch, args.steps), generator)

    def batched_decode():
        return masked_decode(PrecomputedSteps(logits), args.batch, tables, args.steps, noise=noise)

    def reference_decode():
        return reference_masked_decode(
            lambda b: PrecomputedSteps(logits[b : b + 1]), args.batch, grammar, args.steps, noise=noise
        )

    assert torch.equal(batched_decode().rules, reference_decode().rules), "the decoders disagree"
    batched_seconds = best_time(batched_decode, repeats=5)
    reference_seconds = best_time(reference_decode, repeats=2)

    print(f"batch x steps x rules: {args.batch} x {args.steps} x {grammar.n_rules} (identical sequences)")
    print(f"torch threads:         {torch.get_num_threads()}")
    print(f"per-sample loop:       {args.batch / reference_seconds:10.1f} sequences/s")
    print(f"batched decoder:       {args.batch / batched_seconds:10.1f} sequences/s")
    print(f"speed-up vs per-sample loop: {reference_seconds / batched_seconds:.1f}x")


if __name__ == "__main__":
    main()
