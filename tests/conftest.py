"""Shared fixtures: the real data sets in ../shared/data (override with GRAMMAR_RAE_TEST_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grammar_rae import Grammar

DATA = Path(os.environ.get("GRAMMAR_RAE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _data_file(name: str) -> Path:
    path = DATA / name
    if not path.is_file():
        pytest.fail(
            f"Test data {path} is missing: put the shared data beside the repository or set GRAMMAR_RAE_TEST_DATA."
        )
    return path


@pytest.fixture(scope="session")
def zinc_path() -> Path:
    return _data_file("zinc250k.smi")


@pytest.fixture(scope="session")
def expr_path() -> Path:
    return _data_file("expr100k.txt")


@pytest.fixture(scope="session")
def zinc(zinc_path) -> list[str]:
    """All 249,456 ZINC250k SMILES, in file order."""
    return zinc_path.read_text().split("\n")[:-1]


@pytest.fixture(scope="session")
def expressions(expr_path) -> list[str]:
    """All 100,000 expressions, in file order."""
    return expr_path.read_text().split("\n")[:-1]


@pytest.fixture(scope="session")
def smiles_grammar() -> Grammar:
    return Grammar.load("smiles")


@pytest.fixture(scope="session")
def expr_grammar() -> Grammar:
    return Grammar.load("expr")


@pytest.fixture(scope="session", autouse=True)
def _private_user_cache(tmp_path_factory):
    """Tests never write to the real user cache."""
    old = os.environ.get("GRAMMAR_RAE_CACHE_DIR")
    os.environ["GRAMMAR_RAE_CACHE_DIR"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if old is None:
        del os.environ["GRAMMAR_RAE_CACHE_DIR"]
    else:
        os.environ["GRAMMAR_RAE_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def zinc_slice(tmp_path_factory, zinc) -> Path:
    """The first 400 ZINC250k molecules as a file."""
    path = tmp_path_factory.mktemp("slices") / "zinc400.smi"
    path.write_text("\n".join(zinc[:400]) + "\n")
    return path


@pytest.fixture(scope="session")
def expr_slice(tmp_path_factory, expressions) -> Path:
    """Every 100th expression (1,000 of them) as a file."""
    path = tmp_path_factory.mktemp("slices") / "expr1000.txt"
    path.write_text("\n".join(expressions[::100]) + "\n")
    return path


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """A private user cache and data directory for tests that prepare data."""
    monkeypatch.setenv("GRAMMAR_RAE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GRAMMAR_RAE_DATA_DIR", str(DATA))
    return tmp_path / "cache"


SMALL_MODEL = dict(preset="cpu", gru_hidden=48, gru_layers=1, latent_dim=8, batch_size=64)


def small_run(out: Path, grammar: str, model: str, data: Path, **settings) -> Path:
    """Train a small model of the real architecture on a data slice into ``out`` (seconds on a CPU)."""
    from grammar_rae.training import train

    train(grammar, model, data=data, out=out, **{**SMALL_MODEL, **settings})
    return out


@pytest.fixture(scope="module")
def expr_run(tmp_path_factory, expr_slice) -> Path:
    """A GrammarRAE trained for 20 small epochs on the expression slice (a fresh one per test module)."""
    return small_run(
        tmp_path_factory.mktemp("runs") / "expr-grae", "expr", "grae", expr_slice, epochs=20, batch_size=32, lr=3e-3
    )
