"""The user cache, and files shipped with the package: the grammars (``grammars/``), data tables (``data/``) and
pretrained models (``pretrained/``).

In a wheel they are the packages ``grammar_rae.grammars``, ``grammar_rae.datafiles`` and
``grammar_rae.pretrained`` (mapped from the top-level folders by ``pyproject.toml``). When the
code runs straight from a source checkout that was not installed, the top-level folders are
read instead.
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

CACHE_DIR_ENV = "GRAMMAR_RAE_CACHE_DIR"
_SOURCE_ROOT = Path(__file__).resolve().parent.parent
_FOLDERS = {"grammar_rae.grammars": "grammars", "grammar_rae.datafiles": "data", "grammar_rae.pretrained": "pretrained"}


def shipped(package: str) -> Traversable:
    """The folder of shipped files for ``package`` (one of the keys of ``_FOLDERS``)."""
    try:
        return resources.files(package)
    except ModuleNotFoundError:
        return _SOURCE_ROOT / _FOLDERS[package]


def cache_dir() -> Path:
    """The user cache: ``$GRAMMAR_RAE_CACHE_DIR``, else ``$XDG_CACHE_HOME/grammar-rae``, else ``~/.cache/grammar-rae``."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "grammar-rae"
