"""Minutes per training epoch of each preset on this machine, one thread: the figures
``grammar-rae train --help`` shows (``epoch_minutes`` in ``data/presets.json``).

Each preset's GrammarRAE is built for each grammar; after one warm-up step, ``--batches`` typical
batches of the epoch's own plan (length-bucketed as in training) are timed in process CPU time
at one thread (the time of an idle core) and scaled to the epoch's number of batches. The last
line gives the paper preset's molecule epoch against the shipped molecule recipe's, measured in
the same run.

    python benchmarks/preset_epoch_time.py [--batches 6]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from _common import data_argument

from grammar_rae import Grammar
from grammar_rae.data import prepare_dataset
from grammar_rae.models import ModelConfig, build_model
from grammar_rae.models.config import preset_names, preset_settings, presets, shipped_recipe
from grammar_rae.run_folder import TrainConfig, sequences_for, split_rows
from grammar_rae.training.api import TRAIN_SETTINGS
from grammar_rae.training.trainer import Trainer

DATA_FILES = {"smiles": "zinc250k.smi", "expr": "expr100k.txt"}


def trainer_and_plan(grammar: Grammar, preset: str, data_dir) -> tuple[Trainer, list[np.ndarray]]:
    """A fresh trainer of ``preset``'s GrammarRAE on the grammar's data set, and its first epoch's batches."""
    settings = preset_settings(preset, grammar.name)
    dataset = prepare_dataset(grammar, data_dir / DATA_FILES[grammar.name], kekule=settings.get("kekule", False))
    torch.manual_seed(0)
    config = ModelConfig.from_preset("grae", grammar.name, grammar.n_rules, grammar.max_length, preset)
    sequences = sequences_for(config, dataset)
    train_config = TrainConfig.from_dict({k: v for k, v in settings.items() if k in TRAIN_SETTINGS})
    splits = split_rows(sequences, train_config)
    trainer = Trainer(
        None, build_model(config, grammar.rule_masks), train_config, sequences, splits, torch.device("cpu")
    )
    return trainer, trainer._my_batches(0)


def epoch_minutes(grammar: Grammar, preset: str, data_dir, batches: int) -> float:
    """CPU minutes of one epoch of ``preset`` on the grammar's data set, from timed batches."""
    trainer, plan = trainer_and_plan(grammar, preset, data_dir)
    picked = np.random.default_rng(0).choice(len(plan), size=batches + 1, replace=False)
    trainer._step(plan[picked[0]])  # warm-up
    started = time.process_time()
    for i in picked[1:]:
        trainer._step(plan[i])
    per_batch = (time.process_time() - started) / batches
    return per_batch * len(plan) / 60 if math.isfinite(per_batch) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--batches", type=int, default=6, help="batches timed per preset and grammar")
    args = parser.parse_args()
    torch.set_num_threads(1)
    minutes = {}
    for name in ("smiles", "expr"):
        grammar = Grammar.load(name)
        for preset in [preset for preset in preset_names() if name in presets()[preset]]:
            minutes[preset, name] = epoch_minutes(grammar, preset, args.data_dir, args.batches)
            print(f"{preset:8s} {name:6s} {minutes[preset, name]:8.1f} min per epoch", flush=True)
    shipped = shipped_recipe("smiles")[0]
    print(
        f"paper preset, molecules: {minutes['paper', 'smiles']:.0f} min per epoch, "
        f"{minutes['paper', 'smiles'] / minutes[shipped, 'smiles']:.1f}x the shipped {shipped} recipe's"
    )


if __name__ == "__main__":
    main()
