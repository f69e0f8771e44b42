"""Run folders: the one place that knows where a run keeps each of its files.

A run folder (``runs/<name>/``, or a shipped model's folder) holds:

- ``config.json``: model config, training config, grammar name and hash, data source;
- ``checkpoint.pt``: the latest full training state (weights, optimiser, scheduler, RNG,
  position in the epoch), rewritten every epoch and on Ctrl-C;
- ``model.pt``: the weights with the best validation loss, and ``best.json`` saying which (a
  finished run whose weights ship with the package keeps them there once, and ``weights.json``
  names the shipped model and their sha256 instead);
- ``metrics.jsonl``: one JSON line per finished epoch.

What commands write for a model (densities ``density-gmm10.npz``, ``evaluation.json`` and its
figures, ``samples/``, ``optimization/<objective>/``) goes to its *work folder*: the run folder
itself, or for a shipped model (whose installed folder may be read-only)
``<user cache>/pretrained/NAME``; a shipped model may carry some of them in its own folder.

Every file is written to a temporary name and renamed into place, so a crash never leaves a
half-written file. Checkpoints hold only tensors and plain values and are read with
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects. This module sits
below training and generation: both ask it, and :class:`RunData` rebuilds a run's data from its
config for either.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from grammar_rae.data.batching import Splits, make_splits
from grammar_rae.data.prepare import PreparedDataset, run_dataset
from grammar_rae.data.sequences import SequenceArrays, char_sequences, grammar_sequences
from grammar_rae.errors import GrammarRAEError
from grammar_rae.files import write_atomic
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.models.config import ModelConfig, settings_from_dict
from grammar_rae.resources import cache_dir, shipped

CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"
WEIGHTS = "model.pt"
BEST = "best.json"
METRICS = "metrics.jsonl"
WEIGHTS_RECORD = "weights.json"  # a finished run whose weights ship with the package: which model and digest
EVALUATION = "evaluation.json"
OPTIMIZATION = "optimization"
TARGETS_GLOB = f"{OPTIMIZATION}/*/targets.npy"  # the objectives' values on the training strings
PRECISIONS = ("auto", "bf16", "fp32")


class RunError(GrammarRAEError):
    """A run folder is missing, holds another run, or is corrupt."""

    kind = "bad run"


def shipped_root() -> Path:
    """The folder holding the shipped models."""
    return Path(str(shipped("grammar_rae.pretrained")))


def density_filename(kind: str, components: int = 10, faithful: float = 0.0) -> str:
    """The file name of a density: ``density-gmm10.npz``, ``density-kernel40000-faithful0.4.npz``
    (a kernel on codes that decode faithfully), ``density-gaussian.npz``."""
    if kind not in ("gmm", "kernel"):
        return f"density-{kind}.npz"
    return f"density-{kind}{components}" + (f"-faithful{faithful:g}" if kind == "kernel" and faithful else "") + ".npz"


class RunFolder:
    """The files of one run, by what they are (``RunFolder("runs/x").weights``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def name(self) -> str:
        """The folder's name (a shipped model's name)."""
        return self.path.name

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def weights(self) -> Path:
        return self.path / WEIGHTS

    @property
    def weights_record(self) -> Path:
        return self.path / WEIGHTS_RECORD

    def weights_source(self) -> Path:
        """The file holding this run's weights: its ``model.pt``, or for a finished run whose weights
        ship with the package (kept there once), the shipped copy its ``weights.json`` names,
        checked against the digest recorded there."""
        if self.weights.exists() or not self.weights_record.exists():
            return self.weights
        record = json.loads(self.weights_record.read_text())
        shipped = shipped_root() / record["shipped_as"].split(":", 1)[-1] / WEIGHTS
        if not shipped.is_file() or hashlib.sha256(shipped.read_bytes()).hexdigest() != record["sha256"]:
            raise RunError(
                f"The weights of {self.path} ship as {record['shipped_as']}, which this installation lacks or "
                "holds with other weights."
            )
        return shipped

    @property
    def best(self) -> Path:
        return self.path / BEST

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def is_shipped(self) -> bool:
        """Whether this is one of the models shipped with the package."""
        return self.path.resolve().parent == shipped_root().resolve()

    @property
    def work(self) -> Path:
        """Where results for this model are written: the run folder itself, or for a shipped model
        ``<user cache>/pretrained/NAME``."""
        return cache_dir() / "pretrained" / self.name if self.is_shipped else self.path

    @property
    def evaluation(self) -> Path:
        """The evaluation protocol's results."""
        return self.work / EVALUATION

    def evaluation_figures(self, kind: str) -> Path:
        """The folder of the evaluation's figures of the samples of one density."""
        return self.work / f"evaluation-{kind}"

    def density(self, kind: str, components: int = 10, faithful: float = 0.0) -> Path:
        """Where a fitted density of this kind is written."""
        return self.work / density_filename(kind, components, faithful)

    def samples(self, name: str, suffix: str) -> Path:
        """A file of sampled strings, ``samples/NAME.SUFFIX``."""
        return self.work / "samples" / f"{name}{suffix}"

    def optimization(self, folder: str = "") -> Path:
        """The BO results folder, or one objective's folder in it."""
        return self.work / OPTIMIZATION / folder if folder else self.work / OPTIMIZATION

    def stored(self, path: Path) -> list[Path]:
        """``path`` (in the work folder) and, for a shipped model, the same file in the model's
        own folder, where the package may carry it: the places to read a result from, in order."""
        if self.work == self.path:
            return [path]
        return [path, self.path / Path(path).relative_to(self.work)]


def save_tensors(path: Path, value: dict) -> None:
    """Write a dict of tensors and plain values atomically."""
    write_atomic(path, lambda out: torch.save(value, out))


def weights_digest(state_dict: dict) -> str:
    """sha256 over the tensors of a state dict, in key order (which weights a run or result holds)."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        digest.update(key.encode())
        digest.update(state_dict[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def load_tensors(path: Path, device: torch.device | str = "cpu") -> dict:
    """Read a file written by :func:`save_tensors` without unpickling arbitrary objects."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError as exc:
        raise RunError(f"{path} does not exist.") from exc
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt or unsafe files
        raise RunError(f"{path} is corrupt or not a grammar-rae checkpoint ({type(exc).__name__}).") from exc


CONFIG_KEYS = ("grammar", "grammar_hash", "preset", "model", "train", "data", "splits")


def read_config(folder: Path) -> dict:
    """The run's ``config.json``, refused in one sentence when it is missing, unreadable or incomplete."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RunError(f"{folder} is a file, not a run folder: pass the folder that holds {CONFIG} and {WEIGHTS}.")
    try:
        config = json.loads((folder / CONFIG).read_text())
    except FileNotFoundError as exc:
        raise RunError(f"{folder} holds no grammar-rae run (no {CONFIG}).") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{folder / CONFIG} is corrupt: {exc}.") from exc
    missing = [key for key in CONFIG_KEYS if not isinstance(config, dict) or key not in config]
    if missing:
        raise RunError(f"{folder / CONFIG} is not a grammar-rae run configuration: it lacks {', '.join(missing)}.")
    return config


def append_metrics(folder: Path, record: dict) -> None:
    """Append one epoch's metrics (the log is rewritten atomically)."""
    path = folder / METRICS
    old = path.read_bytes() if path.exists() else b""
    write_atomic(path, lambda out: out.write(old + (json.dumps(record) + "\n").encode()))


def training_summary(folder: Path) -> dict:
    """Epochs run, training minutes and the best epoch's record of a run (from its metrics log
    and ``best.json``)."""
    epochs = read_metrics(folder)
    best = json.loads((folder / BEST).read_text())
    return {
        "epochs": len(epochs),
        "minutes": round(sum(e.get("seconds", 0.0) for e in epochs) / 60, 1),
        "best_epoch": best["epoch"],
        "val_loss": best["val_loss"],
        "val_accuracy": best.get("val_accuracy"),
    }


def read_metrics(folder: Path) -> list[dict]:
    """All epoch records so far."""
    path = folder / METRICS
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@dataclass
class TrainConfig:
    """Optimisation settings (protocol section 4 defaults), saved in ``config.json``."""

    epochs: int
    batch_size: int
    patience: int
    lr: float = 1e-3
    lr_factor: float = 0.2
    min_lr: float = 1e-4
    seed: int = 0
    test_size: int = 5000
    val_fraction: float = 0.1
    max_molecules: int | None = None
    bucket: bool = True
    shuffle_split: bool = False
    warmup_steps: int = 0  # the learning rate rises linearly to ``lr`` over the first optimiser steps
    precision: str = "auto"  # "auto": bf16 autocast on GPUs with bf16, fp32 elsewhere; "bf16"; "fp32"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise GrammarRAEError(f"Unknown precision {self.precision!r}: use one of {', '.join(PRECISIONS)}.")
        if self.warmup_steps < 0:
            raise GrammarRAEError(f"warmup steps must be 0 or more, not {self.warmup_steps}.")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Rebuild from ``asdict`` output."""
        return settings_from_dict(cls, values, "training")


def sequences_for(config: ModelConfig, dataset: PreparedDataset) -> SequenceArrays:
    """Production sequences for grammar models, character sequences for the CVAE."""
    return grammar_sequences(dataset) if config.is_grammar_model else char_sequences(dataset, config.max_length)


def split_rows(sequences: SequenceArrays, train_config: TrainConfig) -> Splits:
    """The splits of protocol section 1 over the usable rows (at most ``max_molecules`` of them)."""
    usable = np.flatnonzero(sequences.usable)[: train_config.max_molecules]
    splits = make_splits(len(usable), train_config.test_size, train_config.val_fraction, train_config.shuffle_split)
    return Splits(usable[splits.train], usable[splits.val], usable[splits.test])


@dataclass
class RunData:
    """A run's prepared data set, its training sequences and its splits, recomputed from ``config.json``."""

    dataset: PreparedDataset
    sequences: SequenceArrays
    splits: Splits

    @classmethod
    def of(cls, folder: str | Path) -> RunData:
        """The data of the run in ``folder`` (prepared from the cache, or again if the cache is gone)."""
        saved = read_config(Path(folder))
        dataset = run_dataset(Grammar.load(saved["grammar"]), saved["data"])
        if dataset.meta["source_sha256"] != saved["data"]["sha256"]:
            raise RunError(f"The data of {folder} ({saved['data']['source']}) has changed since the run was trained.")
        model_config, train_config = ModelConfig.from_dict(saved["model"]), TrainConfig.from_dict(saved["train"])
        sequences = sequences_for(model_config, dataset)
        return cls(dataset, sequences, split_rows(sequences, train_config))

    def rows(self, split: str) -> np.ndarray:
        """Row numbers of the ``train``, ``val`` or ``test`` split."""
        if split not in ("train", "val", "test"):
            raise ValueError(f"Unknown split {split!r}: use train, val or test.")
        return getattr(self.splits, split)

    def strings(self, split: str) -> list[str]:
        """The strings of a split."""
        strings = self.dataset.strings
        return [strings[i] for i in self.rows(split)]


def split_strings(folder: str | Path, split: str = "test") -> list[str]:
    """The strings of a run's ``train``, ``val`` or ``test`` split, recomputed from its config."""
    return RunData.of(folder).strings(split)


def select_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto``: CUDA when present (one GPU per local process: ``local_rank``'s), else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise GrammarRAEError(f"Unknown device '{name}': use auto, cpu, cuda or cuda:N.") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GrammarRAEError("--device cuda was asked for, but PyTorch sees no CUDA GPU here.")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device
