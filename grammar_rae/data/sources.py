"""Where data sets come from: local files, named data sets, the user cache, and downloads.

A named data set (``zinc250k``, ``expr100k``; see ``data/datasets.json``) is looked up in this
order: ``$GRAMMAR_RAE_DATA_DIR/<filename>``, the user cache, and finally its canonical URL,
whose download is checked against the recorded sha256 before it is kept.

A generated data set (``grammar-rae data generate-expressions``) leaves its recipe in the user
cache under the file's sha256; a run trained on the file records the recipe, so the set can be
made again, byte for byte, wherever the run goes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path

from grammar_rae.errors import DataError
from grammar_rae.files import save_json, save_lines
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.grammar.generate import generate_strings
from grammar_rae.resources import cache_dir, shipped

DATA_DIR_ENV = "GRAMMAR_RAE_DATA_DIR"


@lru_cache(maxsize=1)
def registry() -> dict[str, dict]:
    """The named data sets: name → {grammar, filename, url, sha256, lines, description}."""
    return json.loads((shipped("grammar_rae.datafiles") / "datasets.json").read_text())


def default_dataset(grammar_name: str) -> str | None:
    """The named data set that belongs to a grammar (``smiles`` → ``zinc250k``), if any."""
    return next((name for name, info in registry().items() if info["grammar"] == grammar_name), None)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_data(data: str | Path | None, grammar_name: str) -> Path:
    """The file to read for ``data``: a path, a data set name, or None for the grammar's default."""
    if data is not None and Path(data).expanduser().is_file():
        return Path(data).expanduser()
    name = str(data) if data is not None else default_dataset(grammar_name)
    if name is None:
        raise DataError(f"The {grammar_name} grammar has no default data set: pass --data FILE.")
    if name not in registry():
        raise DataError(f"No such file or data set '{name}': give an existing file or one of {', '.join(registry())}.")
    info = registry()[name]
    if info["grammar"] != grammar_name:
        raise DataError(f"Data set {name} is written in the {info['grammar']} grammar, not {grammar_name}.")
    return local_dataset(name) or download(name, cache_dir() / "datasets" / info["filename"])


def local_dataset(name: str) -> Path | None:
    """The file of a named data set on this machine ($GRAMMAR_RAE_DATA_DIR, then the user cache), or None."""
    filename = registry()[name]["filename"]
    candidates = [Path(os.environ[DATA_DIR_ENV]).expanduser() / filename] if os.environ.get(DATA_DIR_ENV) else []
    candidates.append(cache_dir() / "datasets" / filename)
    return next((path for path in candidates if path.is_file()), None)


def dataset_with_sha256(sha256: str) -> str | None:
    """The named data set whose file has this sha256, if any."""
    return next((name for name, info in registry().items() if info["sha256"] == sha256), None)


def run_source(source: str, sha256: str, recipe: dict | None = None) -> str:
    """Where to read a run's data: the file it was trained on if it is still there, else the named
    data set with the same sha256 (so a run trained elsewhere, or shipped pretrained, finds its
    data through $GRAMMAR_RAE_DATA_DIR, the cache or a download), else the generated set made
    again from its ``recipe``."""
    if Path(source).is_file():
        return source
    name = dataset_with_sha256(sha256)
    if name is not None:
        return name
    if recipe is not None:
        return str(regenerate(recipe, sha256))
    raise DataError(f"The data this run was trained on ({source}) is not there any more: put it back at that path.")


def _generated(sha256: str, suffix: str) -> Path:
    return cache_dir() / "generated" / f"{sha256}{suffix}"


def generate_dataset(grammar: str, n: int, max_productions: int, seed: int, out: Path) -> dict:
    """Write distinct random strings of a grammar to a file and remember the recipe under the
    file's sha256 (so a run on it can make it again); returns the recipe.

    Args:
        grammar: a shipped grammar's name or a grammar file.
        n: how many distinct strings.
        max_productions: the longest derivation drawn (see ``generate_strings``).
        seed: the random seed.
        out: the file written.
    """
    loaded = Grammar.load(grammar)
    save_lines(out, generate_strings(loaded, n, max_productions, seed))
    recipe = {
        "generator": "generate-expressions",
        "grammar": str(grammar),
        "grammar_hash": loaded.hash,
        "n": n,
        "max_productions": max_productions,
        "seed": seed,
    }
    save_json(_generated(file_sha256(out), ".json"), recipe)
    return recipe


def recipe_of(sha256: str) -> dict | None:
    """The recipe of the generated data set whose file has this sha256, if this machine made it."""
    path = _generated(sha256, ".json")
    return json.loads(path.read_text()) if path.is_file() else None


def regenerate(recipe: dict, sha256: str) -> Path:
    """The generated data set of ``recipe`` in the user cache (made again if it is not there),
    checked against the sha256 the run recorded."""
    path = _generated(sha256, ".txt")
    if not path.is_file():
        grammar = Grammar.load(recipe["grammar"])
        if grammar.hash != recipe["grammar_hash"]:
            raise DataError(
                f"The {grammar.name} grammar has changed since this run's data was generated, so the data "
                "cannot be made again: put the original file back."
            )
        save_lines(path, generate_strings(grammar, recipe["n"], recipe["max_productions"], recipe["seed"]))
    if file_sha256(path) != sha256:
        path.unlink()
        raise DataError(
            "The data set made again from this run's recipe differs from the one it was trained on: "
            "put the original file back."
        )
    return path


def download(name: str, target: Path) -> Path:
    """Download a named data set to ``target``, verify its sha256 and keep it only if it matches."""
    info = registry()[name]
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(info["url"], timeout=60) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != info["sha256"]:
            raise DataError(
                f"The download of {name} from {info['url']} has sha256 {digest.hexdigest()}, "
                f"not the expected {info['sha256']}; it was discarded."
            )
        os.replace(tmp, target)
        return target
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DataError(
            f"Could not download {name} from {info['url']} ({exc}); download it yourself and pass "
            f"--data FILE, or put it at ${DATA_DIR_ENV}/{info['filename']}."
        ) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
