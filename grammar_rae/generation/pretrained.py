"""Models shipped with the package (``pretrained/`` in the source tree), named ``pretrained:NAME``.

A shipped model is a run folder without its training checkpoint: ``config.json``, ``model.pt``
(tensors only), ``best.json``, ``metrics.jsonl``, its fitted ex-post density, a model card
(``README.md``) and the objectives' values on its training strings
(``optimization/<objective>/targets.npy``, so that BO starts without recomputing them). The
installed package may be read-only, so whatever a command writes for a
shipped model (densities, samples, BO results) goes to the user cache instead.
"""

from __future__ import annotations

import json
from pathlib import Path

from grammar_rae import run_folder as rf
from grammar_rae.run_folder import RunFolder, shipped_root

PREFIX = "pretrained:"


def available() -> list[str]:
    """Names of the shipped models."""
    root = shipped_root()
    return sorted(p.parent.name for p in root.glob(f"*/{rf.WEIGHTS}")) if root.is_dir() else []


def pretrained_folder(spec: str) -> Path:
    """The folder of ``pretrained:NAME``."""
    name = spec[len(PREFIX) :]
    folder = shipped_root() / name
    if not (folder / rf.WEIGHTS).is_file():
        raise rf.RunError(f"No pretrained model {name!r}: the shipped ones are {', '.join(available()) or 'none'}.")
    return folder


def default_folder(grammar_name: str) -> Path | None:
    """The shipped model used for ``grammar_name`` when no run is named or found (``defaults.json``)."""
    defaults = shipped_root() / "defaults.json"
    name = json.loads(defaults.read_text()).get(grammar_name) if defaults.is_file() else None
    return pretrained_folder(PREFIX + name) if name in available() else None


def is_shipped(folder: Path) -> bool:
    """Whether ``folder`` is one of the shipped models."""
    return RunFolder(folder).is_shipped
