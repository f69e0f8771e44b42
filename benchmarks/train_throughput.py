"""Training throughput of the paper architecture: length-bucketed, truncated batches vs padded to 277.

Both take the same ZINC250k molecules through forward + backward + Adam step of the paper
GrammarRAE (3 × GRU 501). "Bucketed" batches come from the length-sorted buckets used in
training and are decoded only up to their longest real sequence; "padded" batches are random
and decoded for all 277 steps (what the reference implementation did). It also reports the
achieved GFLOP/s of the bucketed step (analytic count: forward + 2 × forward for backward)
against this machine's float32 matrix-multiply rate. The last line is the throughput ratio.

    python benchmarks/train_throughput.py [--batch 100 --batches 4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from _common import best_time, data_argument

from grammar_rae import Grammar
from grammar_rae.data import prepare_dataset
from grammar_rae.data.batching import epoch_batches
from grammar_rae.models import ModelConfig, build_model


def step_flops(config: ModelConfig, batch: int, steps: int) -> float:
    """Multiply-adds × 2 of one forward pass, × 3 for forward + backward."""
    flops, channels, length = 0.0, config.vocab_size, config.max_length
    for filters, kernel in zip(config.conv_filters, config.conv_kernels):
        length -= kernel - 1
        flops += 2 * length * filters * channels * kernel
        channels = filters
    flops += 2 * channels * length * config.encoder_hidden + 2 * config.encoder_hidden * config.latent_dim
    flops += 2 * config.latent_dim * config.decoder_dense
    width = config.decoder_dense
    for _ in range(config.gru_layers):
        flops += steps * 2 * 3 * config.gru_hidden * (width + config.gru_hidden)
        width = config.gru_hidden
    flops += steps * 2 * config.gru_hidden * config.vocab_size
    return 3 * flops * batch


def matmul_gflops(size: int = 2048) -> float:
    """This machine's float32 matrix-multiply rate."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / best_time(lambda: a @ b, repeats=5) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--batch", type=int, default=100, help="molecules per batch")
    parser.add_argument("--batches", type=int, default=4, help="batches timed per variant")
    args = parser.parse_args()

    grammar = Grammar.load("smiles")
    dataset = prepare_dataset(grammar, args.data_dir / "zinc250k.smi")
    lengths = np.asarray(dataset.lengths, dtype=np.int64)
    config = ModelConfig.from_preset("grae", "smiles", grammar.n_rules, grammar.max_length, "paper")
    torch.manual_seed(0)
    model = build_model(config, grammar.rule_masks)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rows = np.arange(5000, len(lengths))
    bucketed = epoch_batches(rows, lengths, args.batch, seed=0, epoch=0, bucket=True)[: args.batches]
    padded = epoch_batches(rows, lengths, args.batch, seed=0, epoch=0, bucket=False)[: args.batches]

    def run(batches: list[np.ndarray], truncate: bool) -> tuple[float, float]:
        flops, started = 0.0, time.perf_counter()
        for batch in batches:
            targets = torch.from_numpy(dataset.productions[np.sort(batch)].astype(np.int64))
            steps = int(lengths[batch].max()) if truncate else grammar.max_length
            loss = model(F.one_hot(targets, grammar.n_rules).float(), targets, steps).total
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            flops += step_flops(config, len(batch), steps)
        seconds = time.perf_counter() - started
        return sum(map(len, batches)) / seconds, flops / seconds / 1e9

    run(bucketed[:1], True)  # warm-up
    fast, achieved = run(bucketed, True)
    slow, _ = run(padded, False)
    peak = matmul_gflops()
    mean_steps = np.mean([lengths[b].max() for b in bucketed])
    print(
        f"paper GRAE (3 x GRU 501), batch {args.batch}, {args.batches} batches each, {torch.get_num_threads()} threads"
    )
    print(f"padded to 277 steps:        {slow:8.1f} molecules/s")
    print(f"bucketed + truncated:       {fast:8.1f} molecules/s (mean {mean_steps:.0f} steps)")
    print(f"achieved {achieved:.1f} GFLOP/s vs matmul {peak:.1f} GFLOP/s ({achieved / peak:.0%} of the machine's rate)")
    print(f"speed-up of bucketing + truncation vs padding to 277: {fast / slow:.2f}x")


if __name__ == "__main__":
    main()
