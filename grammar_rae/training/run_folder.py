"""Run folders: ``runs/<name>/`` with the config, checkpoints and the metrics log.

- ``config.json``: model config, training config, grammar name and hash, data source;
- ``checkpoint.pt``: the latest full training state (weights, optimiser, scheduler, RNG,
  position in the epoch), rewritten every epoch and on Ctrl-C;
- ``model.pt``: the weights with the best validation loss, and ``best.json`` saying which;
- ``metrics.jsonl``: one JSON line per finished epoch.

Every file is written to a temporary name and renamed into place, so a crash never leaves a
half-written file. Checkpoints hold only tensors and plain values and are read with
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from grammar_rae.errors import GrammarRAEError
from grammar_rae.files import write_atomic

CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"
WEIGHTS = "model.pt"
BEST = "best.json"
METRICS = "metrics.jsonl"


class RunError(GrammarRAEError):
    """A run folder is missing, holds another run, or is corrupt."""

    kind = "bad run"


def save_tensors(path: Path, value: dict) -> None:
    """Write a dict of tensors and plain values atomically."""
    write_atomic(path, lambda out: torch.save(value, out))


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
