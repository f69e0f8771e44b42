"""How the ``cpu`` preset was chosen: candidate architectures trained for the same wall time.

Each candidate GRAE trains on ZINC250k (the paper's split, length-bucketed batches) for
``--minutes`` of wall time on this machine; then its validation loss and teacher-forced
accuracy on the first 2,000 validation molecules are measured, with its training throughput.
The candidate with the lowest validation loss at equal time wins. The last line names it and
its throughput against the paper architecture's, measured in the same run.

    python benchmarks/cpu_preset_candidates.py [--minutes 6]
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import data_argument

from grammar_rae import Grammar
from grammar_rae.data import prepare_dataset
from grammar_rae.data.sequences import grammar_sequences
from grammar_rae.models import ModelConfig, build_model
from grammar_rae.training.api import split_rows
from grammar_rae.training.trainer import TrainConfig, Trainer

CANDIDATES = [  # (GRU width, GRU layers, batch size)
    (501, 3, 500),  # the paper architecture: throughput only
    (256, 1, 256),
    (192, 2, 256),
    (128, 3, 256),
]


def train_for(trainer: Trainer, seconds: float) -> tuple[int, float]:
    """Train until the wall-clock budget is spent; returns (molecules seen, molecules/s)."""
    seen, started, epoch = 0, time.perf_counter(), 0
    trainer.model.train()
    while time.perf_counter() - started < seconds:
        for rows in trainer._my_batches(epoch):
            trainer._step(rows)
            seen += len(rows)
            if time.perf_counter() - started >= seconds:
                break
        epoch += 1
    return seen, seen / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--minutes", type=float, default=6.0, help="training time per candidate")
    args = parser.parse_args()
    grammar = Grammar.load("smiles")
    dataset = prepare_dataset(grammar, args.data_dir / "zinc250k.smi")
    sequences = grammar_sequences(dataset)
    results = {}
    for hidden, layers, batch in CANDIDATES:
        torch.manual_seed(0)
        config = ModelConfig.from_preset("grae", "smiles", grammar.n_rules, grammar.max_length, "paper", gru_hidden=hidden, gru_layers=layers)
        train_config = TrainConfig(epochs=1, batch_size=batch, patience=1)
        splits = split_rows(sequences, train_config)
        trainer = Trainer(None, build_model(config, grammar.rule_masks), train_config, sequences, splits, torch.device("cpu"))
        paper = (hidden, layers, batch) == CANDIDATES[0]
        seen, rate = train_for(trainer, 60 if paper else args.minutes * 60)
        if paper:
            print(f"GRU {hidden}x{layers}, batch {batch}: {rate:6.0f} molecules/s (paper architecture, throughput only)", flush=True)
            paper_rate = rate
            continue
        val = trainer.evaluate(splits.val[:2000])
        results[(hidden, layers, batch)] = (val.loss, rate)
        print(
            f"GRU {hidden}x{layers}, batch {batch}: {rate:6.0f} molecules/s, {seen:,} molecules in {args.minutes:g} min, "
            f"validation loss {val.loss:.4f}, teacher-forced accuracy {val.accuracy:.3f}, "
            f"one epoch ≈ {len(splits.train) / rate / 60:.0f} min",
            flush=True,
        )
    (hidden, layers, batch), (loss, rate) = min(results.items(), key=lambda item: item[1][0])
    print(f"best at equal time: GRU {hidden}x{layers}, batch {batch} (validation loss {loss:.4f}); throughput vs paper architecture: {rate / paper_rate:.1f}x")


if __name__ == "__main__":
    main()
