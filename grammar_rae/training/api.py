"""``train()``: from a grammar, a model name and a preset to a finished run folder."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from grammar_rae import run_folder as rf
from grammar_rae.data.domains import domain_of
from grammar_rae.data.prepare import PreparedDataset, prepare_dataset, run_dataset
from grammar_rae.data.sources import recipe_of
from grammar_rae.files import save_json
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.grammar.charset import CharCodec
from grammar_rae.models.autoencoders import build_model
from grammar_rae.models.config import ModelConfig, preset_settings, shipped_recipe
from grammar_rae.progress import LOGGER
from grammar_rae.run_folder import TrainConfig, select_device, sequences_for, split_rows
from grammar_rae.training.distributed import World, barrier, gather, init_world, shutdown
from grammar_rae.training.trainer import (
    Trainer,
    collect_digests,
    cpu_has_native_bf16,
    estimate_epoch_seconds,
)

MODEL_SETTINGS = {f.name for f in fields(ModelConfig)} - {"model", "grammar", "vocab_size", "max_length"}
TRAIN_SETTINGS = {f.name for f in fields(TrainConfig)}

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """A finished run: its folder and metrics log."""

    folder: Path
    metrics: list[dict]
    world: World

    @property
    def best(self) -> dict:
        """The epoch record with the lowest validation loss."""
        return min(self.metrics, key=lambda m: m["val_loss"])


def default_run_folder(model: str, grammar: str, root: str | Path = "runs") -> Path:
    """``runs/<model>-<grammar>-<date>-<time>``."""
    return Path(root) / f"{model}-{grammar}-{time.strftime('%Y%m%d-%H%M%S')}"


def data_record(dataset: PreparedDataset) -> dict:
    """What a run's config says of its data: the file, its sha256, its form and, for a generated
    set, the recipe that makes it again."""
    meta = dataset.meta
    record = {"source": meta["source"], "sha256": meta["source_sha256"], "kekule": bool(meta.get("kekule", False))}
    recipe = recipe_of(meta["source_sha256"])
    return record | ({"recipe": recipe} if recipe is not None else {})


def _new_configs(grammar: Grammar, model: str, preset: str, overrides: dict) -> tuple[ModelConfig, TrainConfig]:
    settings = preset_settings(preset, grammar.name)
    char_length = settings["char_max_length"]
    model_overrides = {k: v for k, v in overrides.items() if k in MODEL_SETTINGS}
    vocab, length = grammar.n_rules, grammar.max_length
    if model == "cvae":
        vocab, length = CharCodec(grammar, char_length).vocab_size, char_length
    model_config = ModelConfig.from_preset(model, grammar.name, vocab, length, preset, **model_overrides)
    train_values = {k: v for k, v in settings.items() if k in TRAIN_SETTINGS}
    train_values.update({k: v for k, v in overrides.items() if k in TRAIN_SETTINGS and v is not None})
    return model_config, TrainConfig.from_dict(train_values)


def _saved_configs(
    folder: Path, saved: dict, grammar: Grammar, overrides: dict, write: bool
) -> tuple[ModelConfig, TrainConfig]:
    if saved["grammar_hash"] != grammar.hash:
        raise rf.RunError(
            f"{folder} was trained with a different {grammar.name} grammar; it cannot be resumed with this one."
        )
    model_config = ModelConfig.from_dict(saved["model"])
    train_config = TrainConfig.from_dict(saved["train"])
    current = {**asdict(model_config), **asdict(train_config)}
    clashes = [
        f"{k} (run: {current[k]}, given: {v})"
        for k, v in overrides.items()
        if v is not None and k in current and current[k] != v and k != "epochs"
    ]
    if clashes:
        raise rf.RunError(f"--resume continues {folder} with its own settings, but these differ: {', '.join(clashes)}.")
    if overrides.get("epochs") is not None and overrides["epochs"] != train_config.epochs:
        # the one setting a resumed run may change: train longer (or stop earlier)
        train_config.epochs = overrides["epochs"]
        if write:
            save_json(folder / rf.CONFIG, {**saved, "train": asdict(train_config)})
    return model_config, train_config


def train(
    grammar: str | Path | None = None,
    model: str | None = None,
    data: str | Path | None = None,
    out: str | Path | None = None,
    preset: str | None = None,
    resume: bool = False,
    device: str = "auto",
    workers: int | None = None,
    kekule: bool | None = None,
    **overrides,
) -> TrainResult:
    """Train a model and return its run; what it does is logged (``logging``, INFO), with
    progress bars (see ``grammar_rae.progress``), by the first process only.

    Args:
        grammar: a shipped grammar's name or a grammar file (default ``smiles``; with ``resume``, the run's).
        model: ``cvae``, ``gvae``, ``gcvae`` or ``grae`` (default: the shipped model's for the grammar).
        data: a data file or data set name (default: the grammar's data set).
        out: the run folder (default ``runs/<model>-<grammar>-<time>``).
        preset: the settings' preset (default: the recipe of the model the package ships for the
            grammar, ``shipped_recipe``: the ``cpu-ar`` GrammarRAE for molecules).
        resume: continue the run in ``out`` exactly where it stopped, with its saved grammar, model,
            preset and settings.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        workers: processes for data preparation (default: all cores).
        kekule: train on the Kekulé forms of the molecules (default: the preset's; see ``prepare_dataset``).
        **overrides: any model or training setting (``latent_dim``, ``gru_hidden``, ``gru_layers``,
            ``batch_size``, ``epochs``, ``beta``, ``lam``, ``reg``, ``seed``, ``max_molecules``, ...);
            None values are ignored.
    """
    unknown = set(overrides) - MODEL_SETTINGS - TRAIN_SETTINGS
    if unknown:
        raise TypeError(f"Unknown settings: {', '.join(sorted(unknown))}")
    if resume and out is None:
        raise rf.RunError("--resume needs --out, the run folder to continue.")
    shipped_name = None
    if resume:
        saved = rf.read_config(Path(out))
        if model is not None and model != saved["model"]["model"]:
            raise rf.RunError(f"{out} holds a {saved['model']['model']} run, not {model}: drop --model to continue it.")
        if preset is not None and preset != saved["preset"]:
            raise rf.RunError(
                f"--resume continues {out} with its own preset ({saved['preset']}): drop --preset {preset}."
            )
        grammar, model, preset = grammar or saved["grammar"], saved["model"]["model"], saved["preset"]
    grammar_ = Grammar.load(grammar or "smiles")
    if preset is None:
        preset, shipped_model, shipped_name = shipped_recipe(grammar_.name)
        model = model or shipped_model
    model = model or "grae"
    preset_settings(preset, grammar_.name)  # an unknown preset, or one without this grammar, is refused before any work
    world = init_world(select_device(device))
    if not world.is_main:  # the other ranks of a distributed run stay quiet
        logging.getLogger(LOGGER).setLevel(logging.WARNING)
    device_ = select_device(device, world.local_rank)
    proposed = Path(out or default_run_folder(model, grammar_.name))
    # the main rank's folder, and whether it holds a run, seen before any rank can write its config
    name, held = gather((str(proposed), (proposed / rf.CONFIG).exists()), world)[0]
    folder = Path(name)
    if resume and not (folder / rf.CHECKPOINT).exists() and (folder / rf.WEIGHTS).exists():
        shutdown(world)
        return _finished_run(folder, saved, overrides.get("epochs"), world)

    if resume:
        model_config, train_config = _saved_configs(folder, saved, grammar_, overrides, world.is_main)
        if kekule is not None and kekule != saved["data"].get("kekule", False):
            raise rf.RunError(f"--resume continues {folder} on its own data form: drop --kekule.")
        dataset = run_dataset(grammar_, saved["data"], workers=workers)
    else:
        if held:
            raise rf.RunError(f"{folder} already holds a run: pass --resume to continue it, or choose another --out.")
        model_config, train_config = _new_configs(grammar_, model, preset, overrides)
        if kekule is None:  # the preset says whether molecules are read in their Kekulé form
            kekule = preset_settings(preset, grammar_.name).get("kekule", False)
        dataset = prepare_dataset(grammar_, data, workers=workers, kekule=bool(kekule))
    if resume and dataset.meta["source_sha256"] != saved["data"]["sha256"]:
        raise rf.RunError(f"The data of {folder} ({saved['data']['source']}) has changed since the run started.")
    sequences = sequences_for(model_config, dataset)
    splits = split_rows(sequences, train_config)
    torch.manual_seed(train_config.seed)
    network = build_model(model_config, grammar_.rule_masks)

    if world.is_main and not resume:
        folder.mkdir(parents=True, exist_ok=True)
        save_json(
            folder / rf.CONFIG,
            {
                "grammar": grammar_.name,
                "grammar_hash": grammar_.hash,
                "preset": preset,
                "model": model_config.to_dict(),
                "train": asdict(train_config),
                "data": data_record(dataset),
                "splits": {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)},
            },
        )
    trainer = Trainer(folder, network, train_config, sequences, splits, device_, world)
    if resume:
        trainer.restore(rf.load_tensors(folder / rf.CHECKPOINT, device_))
    if world.is_main:
        if resume and trainer.epoch >= train_config.epochs:
            logger.info(
                f"{folder} has finished all {train_config.epochs} epochs: nothing to train "
                f"(pass --epochs N above {train_config.epochs} to train it for longer)."
            )
        elif resume:
            logger.info(f"Resuming {folder} at epoch {trainer.epoch + 1}, batch {trainer.batch + 1}.")
        logger.info(
            f"Training {model_config.model} on {len(splits.train):,} {grammar_.name} strings "
            f"({len(splits.val):,} validation, {len(splits.test):,} test) on {device_} into {folder}."
        )
        if not resume:
            seconds = estimate_epoch_seconds(network, sequences, splits.train, train_config.batch_size, device_)
            logger.info(
                recipe_line(
                    preset,
                    shipped_name,
                    model_config,
                    train_config,
                    dataset.meta.get("kekule", False),
                    seconds,
                    device_,
                )
            )
        if device_.type == "cpu" and train_config.precision == "bf16" and not cpu_has_native_bf16():
            logger.warning(
                "This CPU has no bfloat16 instructions, so bf16 autocast may train slower here than --precision fp32."
            )
    try:
        metrics = trainer.train()
        digests = collect_digests(trainer)
        if world.is_main and world.distributed:
            save_json(folder / "ddp.json", {"world_size": world.size, "rank_digests": digests})
        barrier(world)  # the ranks leave together: one tearing gloo down while another still writes can abort it
    except KeyboardInterrupt:
        if world.is_main:
            logger.warning(
                f"Interrupted: the state is saved; continue with `grammar-rae train --resume --out {folder}`."
            )
        raise
    finally:
        trainer.release()
        shutdown(world)
    return TrainResult(folder, metrics, world)


def _finished_run(folder: Path, saved: dict, epochs: int | None, world: World) -> TrainResult:
    """A finished run whose training checkpoint was removed (as shipped and committed runs are):
    nothing to train, and no way to train further without the optimiser state."""
    metrics = rf.read_metrics(folder)
    planned = saved["train"]["epochs"]
    if len(metrics) < planned or (epochs is not None and epochs > len(metrics)):
        wanted = epochs if epochs is not None else planned
        raise rf.RunError(
            f"{folder} has {len(metrics)} of {wanted} epochs but no {rf.CHECKPOINT} to continue from: "
            "its training state was removed, so start a new run to train longer."
        )
    if world.is_main:
        logger.info(
            f"{folder} has finished all {len(metrics)} epochs (its {rf.CHECKPOINT} was removed): nothing to train."
        )
    return TrainResult(folder, metrics, world)


def recipe_line(
    preset: str,
    shipped_name: str | None,
    model: ModelConfig,
    train_config: TrainConfig,
    kekule: bool,
    epoch_seconds: float,
    device: torch.device,
) -> str:
    """The line ``train`` says before training: which recipe, what it is, how long it will take here
    (from a timed typical batch) and the alternative.

    Args:
        preset: the preset's name.
        shipped_name: the shipped model this recipe made, or None.
        model: the model's config.
        train_config: the training settings.
        kekule: whether molecules are read in their Kekulé form.
        epoch_seconds: the estimated seconds per epoch here.
        device: where training runs.
    """
    whose = f", the recipe of the shipped pretrained:{shipped_name}" if shipped_name else ""
    form_name = domain_of(model.grammar).form_name(kekule)
    form = f", {form_name}" if form_name else ""
    what = (
        f"{model.model}, {model.encoder} encoder, {model.decoder} decoder ({model.gru_layers} × GRU {model.gru_hidden}), "
        f"latent {model.latent_dim}{form}, {train_config.epochs} epoch{'s' if train_config.epochs != 1 else ''}"
    )
    where = f"this GPU ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "this CPU"
    if preset != "paper":
        other = "--preset paper for the papers' own setting"
    elif shipped_name:
        other = "it is the papers' own setting too"
    else:
        other = "the papers' own setting (without --preset: the shipped model's recipe)"
    return (
        f"Preset {preset}{whose}: {what}. About {_duration(epoch_seconds)} an epoch on {where}, "
        f"{_duration(epoch_seconds * train_config.epochs)} in all; {other}."
    )


def _duration(seconds: float) -> str:
    """Seconds as a rounded human duration (``40 s``, ``12 min``, ``3.5 h``)."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
