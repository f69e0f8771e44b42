"""Greedy decoding with denormal floats flushed to zero (what the decoders do) against without.

A trained GRU's float32 hidden state can hold values below float32's normal range, on which CPUs
compute far more slowly. ``--n`` points of a model's GMM are decoded greedily at one thread both
ways, twice each in turn; the strings must be the same. The last line is the speed ratio.

    python benchmarks/denormals.py --model results/latent-long/cpu-ar [--n 500]
"""

from __future__ import annotations

import argparse
import time

import torch

from grammar_rae.generation import decoding, trained
from grammar_rae.generation.sampling import run_density
from grammar_rae.generation.trained import TrainedModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pretrained:zinc-grae")
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = TrainedModel.load(args.model, "cpu")
    density, _ = run_density(model, "gmm")
    z = density.sample(args.n, seed=3)
    variants = {
        "flushed": decoding.masked_decode,
        "not flushed": torch.no_grad()(decoding.masked_decode.__wrapped__.__wrapped__),  # under both decorators
    }
    seconds: dict[str, float] = {}
    strings: dict[str, list] = {}
    for name in [*variants, *variants]:
        trained.masked_decode = variants[name]  # what TrainedModel.decode calls
        started = time.process_time()
        strings[name] = model.decode(z, "argmax")
        seconds[name] = min(seconds.get(name, float("inf")), time.process_time() - started)
    trained.masked_decode = variants["flushed"]
    print(
        f"{args.n:,} GMM points of {args.model}, greedy, one thread: same strings {strings['flushed'] == strings['not flushed']}"
    )
    for name, value in seconds.items():
        print(f"{name}: {value:.2f} CPU-s (best of 2)")
    print(f"flushed is {seconds['not flushed'] / seconds['flushed']:.2f}x as fast as not flushed")


if __name__ == "__main__":
    main()
