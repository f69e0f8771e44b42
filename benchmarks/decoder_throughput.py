"""Sampling and training throughput of the two decoders, measured in the same run.

Sampling: ``--n`` points of each model's ex-post GMM decoded once each by sampling, with the
SMILES constraints (as ``grammar-rae sample --n N`` does), timed after the density is fitted;
reported in molecules per second (valid or not). Training: forward + backward + Adam step of each
preset's GrammarRAE on the same length-bucketed ZINC250k batches (truncated to their longest
sequence), in molecules per second. The last line is the autoregressive decoder's sampling
throughput against the repeat decoder's.

    python benchmarks/decoder_throughput.py [--repeat pretrained:zinc-grae-paper-decoder] [--autoregressive pretrained:zinc-grae] [--n 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import data_argument

from grammar_rae import Grammar
from grammar_rae.data import prepare_dataset
from grammar_rae.data.batching import epoch_batches
from grammar_rae.data.sequences import grammar_sequences, one_hot_rows
from grammar_rae.generation.sampling import run_density
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.models import ModelConfig, build_model
from grammar_rae.models.config import preset_settings


def sampling_rate(folder: str, n: int) -> float:
    """Molecules per second decoded from the run's GMM (one sampling decode each, constraints on)."""
    model = TrainedModel.load(folder, "cpu")
    density, _ = run_density(model, "gmm")
    z = density.sample(n, seed=0)
    started = time.perf_counter()
    model.decode_attempts(z, 1, "sample", torch.Generator().manual_seed(0))
    return n / (time.perf_counter() - started)


def training_rate(preset: str, batches: list[np.ndarray], sequences, grammar: Grammar) -> float:
    """Molecules per second of training steps of the preset's GrammarRAE (first batch untimed)."""
    torch.manual_seed(0)
    config = ModelConfig.from_preset("grae", "smiles", grammar.n_rules, grammar.max_length, preset)
    model = build_model(config, grammar.rule_masks).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    bf16 = preset_settings(preset, "smiles").get("precision") == "bf16"  # each preset's own setting
    seen, started = 0, None
    for i, rows in enumerate(batches):
        x, targets = one_hot_rows(sequences.indices, np.sort(rows), sequences.vocab_size, torch.device("cpu"))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(x, targets, int(sequences.lengths[rows].max())).total
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i == 0:
            started = time.perf_counter()
        else:
            seen += len(rows)
    return seen / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument(
        "--repeat", default="pretrained:zinc-grae-paper-decoder", help="a SMILES run with the repeat decoder"
    )
    parser.add_argument(
        "--autoregressive", default="pretrained:zinc-grae", help="a SMILES run with the autoregressive decoder"
    )
    parser.add_argument("--n", type=int, default=1000, help="samples per model")
    parser.add_argument("--batches", type=int, default=6, help="training batches per preset (the first is not timed)")
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    rates = {}
    for name, folder in (("repeat", args.repeat), ("autoregressive", args.autoregressive)):
        rates[name] = sampling_rate(folder, args.n)
        print(f"sampling, {name} decoder ({folder}): {rates[name]:8.1f} molecules/s", flush=True)
    grammar = Grammar.load("smiles")
    sequences = grammar_sequences(prepare_dataset(grammar, args.data_dir / "zinc250k.smi"))
    batches = epoch_batches(np.arange(5000, len(sequences.lengths)), sequences.lengths, 256, seed=0, epoch=0)[
        : args.batches
    ]
    for preset, name in (("cpu", "repeat, cpu preset"), ("cpu-ar", "autoregressive, cpu-ar preset")):
        print(f"training, {name}: {training_rate(preset, batches, sequences, grammar):8.1f} molecules/s", flush=True)
    print(f"sampling throughput, autoregressive vs repeat decoder: {rates['autoregressive'] / rates['repeat']:.2f}x")


if __name__ == "__main__":
    main()
