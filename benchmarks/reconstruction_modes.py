"""Round trips by decoding mode: greedy, beam search and nearest decoding with more and more candidates.

The first ``--n`` ZINC test-split molecules after ``--skip``, given as RDKit's canonical aromatic
SMILES, are encoded and decoded each way; a round trip counts where the decode is the same molecule
(canonical SMILES, stereo included). Nearest decoding keeps, of the greedy decode and the rest drawn
at T = 0.5, the valid candidate whose code lies nearest the molecule's code. CPU seconds are the
process's, at one thread. The last line is the best nearest decoding's round trip against greedy's.

    python benchmarks/reconstruction_modes.py --model RUN [--n 300] [--candidates 10,30,100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import round_trip_arguments, round_trip_setup

from grammar_rae.data.validity import canonical_many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    round_trip_arguments(parser, 300)
    parser.add_argument("--candidates", default="10,30,100")
    args = parser.parse_args()
    molecules, model = round_trip_setup(args)
    codes, errors = model.encode(molecules)
    modes = {"greedy": lambda: model.decode(codes, "argmax"), "beam 5": lambda: model.decode(codes, "beam")}
    for k in map(int, args.candidates.split(",")):
        modes[f"nearest of {k}"] = lambda k=k: model.decode_nearest(
            codes, k, generator=torch.Generator().manual_seed(0)
        )
    print(f"{len(molecules)} test molecules of {args.model} ({len(errors)} not encoded)")
    print("| decoding | round trip | CPU-s per molecule |")
    print("| --- | --- | --- |")
    share = {}
    for name, decode in modes.items():
        started = time.process_time()
        back = canonical_many("smiles", decode())
        seconds = (time.process_time() - started) / len(molecules)
        share[name] = float(np.mean([b is not None and b == m for b, m in zip(back, molecules)]))
        print(f"| {name} | {share[name]:.3f} | {seconds:.3f} |", flush=True)
    best = max((name for name in share if name.startswith("nearest")), key=share.get)
    print(
        f"{best}: round trip {share[best]:.3f} against greedy's {share['greedy']:.3f} ({share[best] / max(share['greedy'], 1e-9):.1f}x)"
    )


if __name__ == "__main__":
    main()
