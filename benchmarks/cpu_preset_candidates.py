"""How the ``cpu`` preset was chosen: candidate architectures trained for the same wall time.

Each candidate GRAE trains on ZINC250k (the paper's split, length-bucketed batches) for
``--minutes`` of wall time on this machine; then its validation loss and teacher-forced
accuracy on the first 2,000 validation molecules are measured, with its training throughput.
The candidate with the lowest validation loss at equal time wins. Then the chosen decoder is
trained again with other training settings (a larger learning rate with warm-up, bf16
autocast, torch.compile) for the same time. ``--only autoregressive`` compares settings of the
autoregressive decoder (width, depth, embedding size, learning rate, precision) the same way.
The last line names the winner and its throughput against the paper architecture's (or, with
``--only settings|autoregressive``, its loss against the group's first candidate), measured in the
same run.

    python benchmarks/cpu_preset_candidates.py [--minutes 6] [--only architectures|settings|autoregressive]
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
from grammar_rae.run_folder import TrainConfig, split_rows
from grammar_rae.training.trainer import Trainer

ARCHITECTURES = [  # (GRU width, GRU layers, batch size)
    (501, 3, 500),  # the paper architecture: throughput only
    (256, 1, 256),
    (192, 2, 256),
    (128, 3, 256),
]
# training settings tried on the chosen decoder (1 × GRU 256, batch 256): name → TrainConfig values
SETTINGS = {
    "lr 3e-3, 200 warm-up steps": {"lr": 3e-3, "warmup_steps": 200},
    "bf16 autocast": {"precision": "bf16"},
    "torch.compile": {"compile": True},
}
# autoregressive-decoder candidates: name → (model settings, training settings), batch 256
_AR = {"decoder": "autoregressive"}
AUTOREGRESSIVE = {
    "AR GRU 256x1, embedding 48": ({**_AR, "gru_hidden": 256, "gru_layers": 1, "embedding_dim": 48}, {}),
    "AR GRU 384x1, embedding 64": ({**_AR, "gru_hidden": 384, "gru_layers": 1, "embedding_dim": 64}, {}),
    "AR GRU 512x1, embedding 64": ({**_AR, "gru_hidden": 512, "gru_layers": 1, "embedding_dim": 64}, {}),
    "AR GRU 256x2, embedding 48": ({**_AR, "gru_hidden": 256, "gru_layers": 2, "embedding_dim": 48}, {}),
    "AR GRU 256x1, embedding 48, lr 2e-3": (
        {**_AR, "gru_hidden": 256, "gru_layers": 1, "embedding_dim": 48},
        {"lr": 2e-3},
    ),
    "AR GRU 384x1, embedding 64, bf16 autocast": (
        {**_AR, "gru_hidden": 384, "gru_layers": 1, "embedding_dim": 64},
        {"precision": "bf16"},
    ),
}


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


def measure(
    grammar, sequences, model: dict, batch: int, seconds: float, settings: dict
) -> tuple[float, float, float, int]:
    """Train one candidate (``model``: ModelConfig overrides) for ``seconds``; returns
    (validation loss, accuracy, molecules/s, molecules seen)."""
    torch.manual_seed(0)
    settings = dict(settings)
    compiled = settings.pop("compile", False)
    config = ModelConfig.from_preset("grae", "smiles", grammar.n_rules, grammar.max_length, "paper", **model)
    train_config = TrainConfig(epochs=1, batch_size=batch, patience=1, **settings)
    splits = split_rows(sequences, train_config)
    trainer = Trainer(
        None, build_model(config, grammar.rule_masks), train_config, sequences, splits, torch.device("cpu")
    )
    if compiled:
        trainer.net = torch.compile(trainer.net, dynamic=True)
    seen, rate = train_for(trainer, seconds)
    val = trainer.evaluate(splits.val[:2000])
    return val.loss, val.accuracy, rate, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--minutes", type=float, default=6.0, help="training time per candidate")
    parser.add_argument(
        "--only", choices=("architectures", "settings", "autoregressive"), default=None, help="run one group"
    )
    args = parser.parse_args()
    grammar = Grammar.load("smiles")
    dataset = prepare_dataset(grammar, args.data_dir / "zinc250k.smi")
    sequences = grammar_sequences(dataset)
    seconds = args.minutes * 60
    results = {}
    if args.only == "autoregressive":
        for name, (model, settings) in AUTOREGRESSIVE.items():
            loss, accuracy, rate, seen = measure(grammar, sequences, model, 256, seconds, settings)
            results[name] = (loss, rate)
            print(
                f"{name}: {rate:6.0f} molecules/s, {seen:,} molecules in {args.minutes:g} min, "
                f"validation loss {loss:.4f}, teacher-forced accuracy {accuracy:.3f}",
                flush=True,
            )
        first = next(iter(AUTOREGRESSIVE))
        name, (loss, rate) = min(results.items(), key=lambda item: item[1][0])
        print(
            f"best at equal time: {name} (validation loss {loss:.4f}); validation loss {loss / results[first][0]:.3f}x "
            f"the {first} candidate's"
        )
        return
    for hidden, layers, batch in ARCHITECTURES if args.only != "settings" else ARCHITECTURES[1:2]:
        paper = (hidden, layers, batch) == ARCHITECTURES[0]
        loss, accuracy, rate, seen = measure(
            grammar, sequences, {"gru_hidden": hidden, "gru_layers": layers}, batch, 60 if paper else seconds, {}
        )
        if paper:
            print(
                f"GRU {hidden}x{layers}, batch {batch}: {rate:6.0f} molecules/s (paper architecture, throughput only)",
                flush=True,
            )
            paper_rate = rate
            continue
        results[f"GRU {hidden}x{layers}, batch {batch}"] = (loss, rate)
        print(
            f"GRU {hidden}x{layers}, batch {batch}: {rate:6.0f} molecules/s, {seen:,} molecules in {args.minutes:g} min, "
            f"validation loss {loss:.4f}, teacher-forced accuracy {accuracy:.3f}",
            flush=True,
        )
    if args.only != "architectures":
        baseline = results["GRU 256x1, batch 256"]
        for name, settings in SETTINGS.items():
            loss, accuracy, rate, seen = measure(
                grammar, sequences, {"gru_hidden": 256, "gru_layers": 1}, 256, seconds, settings
            )
            results[f"GRU 256x1, batch 256, {name}"] = (loss, rate)
            print(
                f"GRU 256x1, batch 256, {name}: {rate:6.0f} molecules/s ({rate / baseline[1]:.2f}x), {seen:,} molecules, "
                f"validation loss {loss:.4f}, teacher-forced accuracy {accuracy:.3f}",
                flush=True,
            )
    name, (loss, rate) = min(results.items(), key=lambda item: item[1][0])
    against = (
        f"{rate / paper_rate:.1f}x the paper architecture's throughput"
        if args.only != "settings"
        else f"validation loss {loss / results['GRU 256x1, batch 256'][0]:.3f}x the plain GRU 256 candidate's"
    )
    print(f"best at equal time: {name} (validation loss {loss:.4f}); {against}")


if __name__ == "__main__":
    main()
