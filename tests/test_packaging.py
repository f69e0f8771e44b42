"""The grammar files, data tables and pretrained models ship inside the wheel and are found after a normal install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_grammars_and_data(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("grammar_rae-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in (
        "grammar_rae/grammars/smiles.cfg",
        "grammar_rae/grammars/expr.cfg",
        "grammar_rae/datafiles/datasets.json",
        "grammar_rae/datafiles/zinc250k_penalized_logp.json",
        "grammar_rae/datafiles/paper_results.json",
        "grammar_rae/pretrained/expr-grae/model.pt",
        "grammar_rae/pretrained/expr-grae/config.json",
        "grammar_rae/pretrained/expr-grae/density-gmm10.npz",
        "grammar_rae/pretrained/expr-grae/README.md",
    ):
        assert shipped in names
    for package in (ROOT / "grammar_rae").rglob("__init__.py"):  # every subpackage is listed in pyproject.toml
        assert package.relative_to(ROOT).as_posix() in names
    assert any(name.endswith("entry_points.txt") for name in names)

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)], check=True
    )
    probe = (
        "import grammar_rae, json; from grammar_rae import Grammar; from grammar_rae.data import registry;"
        "from grammar_rae.generation.trained import TrainedModel;"
        "print(json.dumps([grammar_rae.__file__, Grammar.load('smiles').n_rules, Grammar.load('expr').n_rules, sorted(registry()),"
        " str(TrainedModel.load('pretrained:expr-grae', 'cpu').folder)]))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    location, n_smiles, n_expr, datasets, expr_grae = __import__("json").loads(out.stdout)
    assert location.startswith(str(site)) and expr_grae.startswith(str(site))  # the installed copy, not the source tree
    assert (n_smiles, n_expr, datasets) == (76, 12, ["expr100k", "zinc250k"])


SUBPACKAGES = ["grammar", "data", "models", "training", "generation", "evaluation", "objectives", "optimization"]


def test_each_subpackage_says_what_it_offers():
    """Every subpackage below the CLI lists its public names in ``__all__``, and each of them imports
    from the package itself (what the README's quick start relies on)."""
    import importlib

    for name in SUBPACKAGES:
        package = importlib.import_module(f"grammar_rae.{name}")
        assert package.__all__, name
        missing = [attribute for attribute in package.__all__ if not hasattr(package, attribute)]
        assert not missing, (name, missing)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    quick_start = readme[readme.index("## From Python") : readme.index("## Grammars")]
    deep = [line for line in quick_start.splitlines() if line.startswith("from grammar_rae.") and line.count(".") > 1]
    assert not deep, deep


# The layers, lowest first: a module imports only from its own layer and those below it.
LAYERS = [
    {"errors", "files", "resources", "progress", "parallel"},
    {"grammar"},
    {"data"},
    {"models"},
    {"run_folder"},
    {"training"},
    {"generation"},
    {"evaluation", "objectives", "optimization"},
    {"reproduce"},
    {"cli"},
]

INFERENCE = {"generation", "evaluation", "objectives", "optimization"}


def test_no_import_runs_back_up_the_layers():
    """grammar → data → models → run_folder → training → generation → evaluation, objectives,
    optimization → reproduce → cli: inference never imports training, the grammar never imports torch's side."""
    import ast

    package = Path(__file__).resolve().parents[1] / "grammar_rae"
    level = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    wrong = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        if parts == ("__init__",):
            continue
        own = level[parts[0]]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("grammar_rae"):
                continue
            # from grammar_rae.X.y import z, or from grammar_rae import X (a module, or a name such as __version__)
            targets = [node.module.split(".")[1]] if "." in node.module else [alias.name for alias in node.names]
            above = [t for t in targets if level.get(t, 0) > own]
            if parts[0] in INFERENCE:  # what uses a trained model needs none of the training code
                above += [t for t in targets if t == "training"]
            wrong += [f"{path.relative_to(package)} imports {node.module}: {t}" for t in above]
    assert not wrong, wrong


def test_weights_are_kept_once():
    """No tracked weights outside pretrained/ repeat shipped ones (their run folder names the shipped
    model in weights.json instead), and a checkpoint is tracked only beside a run still training."""
    import hashlib

    root = Path(__file__).resolve().parents[1]
    listed = subprocess.run(["git", "ls-files", "*.pt"], cwd=root, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    digest = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()  # noqa: E731
    shipped = {digest(path) for path in (root / "pretrained").glob("*/model.pt")}
    for name in listed.stdout.split():
        path = root / name
        if name.startswith("pretrained/"):
            continue
        if path.name == "checkpoint.pt":
            continue  # a run in progress (the folder's weights are its own until it finishes)
        assert (path.parent / "checkpoint.pt").exists() or digest(path) not in shipped, (
            f"{name} repeats a shipped model"
        )
    for record in root.glob("results/**/weights.json"):
        saved = json.loads(record.read_text())
        assert saved["sha256"] in shipped and not (record.parent / "model.pt").exists(), record


def test_public_functions_with_many_parameters_say_what_each_is():
    """A public function or method with more than four parameters documents them in an ``Args:`` block."""
    import ast

    package = Path(__file__).resolve().parents[1] / "grammar_rae"
    undocumented = []
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] == "cli":
            continue  # the commands' parameters are their options, documented by --help
        tree = ast.parse(path.read_text())
        members = [m for c in tree.body if isinstance(c, ast.ClassDef) and not c.name.startswith("_") for m in c.body]
        for node in tree.body + members:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                if len([a for a in arguments if a.arg not in ("self", "cls")]) > 4:
                    if "Args:" not in (ast.get_docstring(node) or ""):
                        undocumented.append(f"{path.relative_to(package)}:{node.lineno} {node.name}")
    assert not undocumented, undocumented
