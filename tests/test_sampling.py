"""Sampling, evaluation, interpolation and their CLI on small real runs (expression and ZINC slices)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import small_run
from rdkit import Chem

from grammar_rae.cli.main import main
from grammar_rae.data.reading import read_strings, write_strings
from grammar_rae.data.validity import canonical_many, valid_mask
from grammar_rae.errors import GrammarRAEError
from grammar_rae.evaluation import protocol
from grammar_rae.evaluation.protocol import EvaluationSettings, evaluate, sample_report, samples_path
from grammar_rae.evaluation.reconstruction import reconstruction_accuracy
from grammar_rae.generation.density import LatentDensity
from grammar_rae.generation.interpolation import interpolate
from grammar_rae.generation.sampling import fit_density, most_frequent_valid, run_density, sample
from grammar_rae.generation.trained import TrainedModel, find_run
from grammar_rae.grammar.batch import grammar_of
from grammar_rae.run_folder import EVALUATION, RunData, RunError, density_filename


@pytest.fixture(scope="module")
def zinc_run(tmp_path_factory, zinc_slice):
    return small_run(tmp_path_factory.mktemp("runs") / "zinc-gvae", "smiles", "gvae", zinc_slice, epochs=2)


def test_sampling_is_seeded_and_fits_the_density_on_demand(expr_run):
    model = TrainedModel.load(expr_run)
    assert not (expr_run / density_filename("gmm")).exists()
    first = sample(model, 200, "gmm", seed=5)
    assert (expr_run / density_filename("gmm")).exists()  # stored on first use
    again = sample(model, 200, "gmm", seed=5)
    assert np.array_equal(first.z, again.z) and first.strings == again.strings
    assert sample(model, 200, "gmm", seed=6).strings != first.strings
    density, fitted = run_density(model, "gmm")
    assert not fitted and np.allclose(density.means_, LatentDensity.load(expr_run / density_filename("gmm")).means_)
    with pytest.raises(GrammarRAEError, match="at least 1"):
        sample(model, 0)


def test_density_is_fitted_on_the_training_codes(expr_run):
    model = TrainedModel.load(expr_run)
    codes = model.codes("train")
    assert codes.shape == (len(model.data.rows("train")), 8)
    gaussian = fit_density(model, "gaussian", save=False)
    assert np.allclose(gaussian.means_[0], codes.mean(axis=0), atol=1e-5)
    strings = model.data.strings("train")[:20]
    assert np.allclose(model.encode(strings)[0], codes[:20], atol=1e-5)  # cache rows == parsed strings


def test_most_frequent_valid():
    candidates = [["x", "x -", "x -", "x -", "1", "1"], [None, "x *"], ["exp( x * x * x )", "2"]]
    assert most_frequent_valid(candidates, "expr") == ["1", None, "2"]  # invalid strings never win


def test_decode_attempts_reuse_one_decoder_pass(expr_run):
    model = TrainedModel.load(expr_run)
    z = LatentDensity("prior").fit(np.zeros((1, 8))).sample(7, seed=0)
    rows = model.decode_attempts(z, 5, "sample", torch.Generator().manual_seed(0))
    assert len(rows) == 7 and all(len(r) == 5 for r in rows)
    argmax = model.decode_attempts(z, 3, "argmax")
    assert all(len(set(r)) == 1 for r in argmax) and [r[0] for r in argmax] == model.decode(z)


def test_reconstruction_counts(expr_run, zinc_run):
    model = TrainedModel.load(expr_run)
    test = model.data.strings("test")
    result = reconstruction_accuracy(model, test[:50] + ["x -"], encodes=1, decodes=4, mode="sample")
    assert (result.n, result.encodes, result.decodes, result.failed_inputs) == (51, 1, 4, 1)
    exact = reconstruction_accuracy(model, test, mode="argmax").accuracy
    assert exact == np.mean([d == s for d, s in zip(model.decode(model.encode(test)[0]), test)])
    assert exact > 0  # twenty small epochs reconstruct some expressions
    # every count over inputs × encodes × decodes, a failed input included: a deterministic code decoded
    # greedily gives the same string each time, so the fraction is the matches among the 50, over 51
    matches = sum(d == t for d, t in zip(model.decode(model.encode(test[:50])[0]), test[:50]))
    repeated = reconstruction_accuracy(model, test[:50] + ["x -"], encodes=2, decodes=3, mode="argmax")
    assert matches > 0 and repeated.accuracy == pytest.approx(matches * 6 / (51 * 6))
    vae = TrainedModel.load(zinc_run)
    drawn = reconstruction_accuracy(vae, vae.data.strings("test")[:10], encodes=3, decodes=2, mode="sample")
    assert (drawn.n, drawn.encodes, drawn.decodes, drawn.failed_inputs) == (10, 3, 2, 0) and 0 <= drawn.accuracy <= 1


def test_vae_draws_differ_but_means_are_deterministic(zinc_run):
    vae = TrainedModel.load(zinc_run)
    strings = vae.data.strings("test")[:4]
    mean_a, _ = vae.encode(strings)
    mean_b, _ = vae.encode(strings)
    drawn, _ = vae.encode(strings, draw=True, generator=torch.Generator().manual_seed(0))
    assert np.array_equal(mean_a, mean_b) and not np.allclose(drawn, mean_a)
    assert np.allclose(drawn, mean_a, atol=0.2)  # noise std 0.01 times the posterior scale


def test_sample_report_on_molecules(zinc_run):
    model = TrainedModel.load(zinc_run)
    strings = model.data.strings("train")[:30] + model.data.strings("test")[:10] + [None] * 10
    report = sample_report(model, strings, ("validity", "uniqueness", "novelty", "properties"), workers=1)
    assert report["n"] == 50 and report["validity"] == pytest.approx(0.8)
    assert report["novelty"] == pytest.approx(10 / 40)  # the 30 training molecules are not novel
    assert 2 < report["properties"]["sa"]["mean"] < 4


def test_evaluate_saves_stages_and_reuses_them(zinc_run, monkeypatch, caplog):
    model = TrainedModel.load(zinc_run)
    settings = EvaluationSettings(test_strings=20, decodes=2, prior_points=30, prior_decodes=3, samples=60, fcd=False)
    results = evaluate(model, settings, workers=1)
    stages = results["stages"]
    assert set(stages) == {
        "reconstruction",
        "reconstruction/greedy",
        "reconstruction/beam",
        "validity/gmm",
        "validity/prior",
        "validity/gmm/unconstrained",
        "validity/prior/unconstrained",
        "samples/gmm",
        "samples/prior",
        "samples/default",
    }
    assert stages["reconstruction"]["encodes"] == 10  # a VAE: ten draws per test molecule
    assert (stages["reconstruction/greedy"]["mode"], stages["reconstruction/beam"]["mode"]) == ("argmax", "beam")
    assert results["settings"]["constraints"] == "auto"
    for kind in ("gmm", "prior"):
        kept = samples_path(model, kind).read_text().split("\n")[:60]  # the strings the stage scored, one per line
        assert stages[f"samples/{kind}"]["n"] == 60 and len(kept) == 60
        assert stages[f"samples/{kind}"]["valid"] == pytest.approx(
            valid_mask("smiles", [s or None for s in kept]).mean()
        )
        assert {"intdiv", "snn", "frag", "scaf", "filters", "unique@1k", "novelty"} <= set(stages[f"samples/{kind}"])
    # beside the protocol's: the very strings `grammar-rae sample --n 60` draws by default (a VAE: the prior, greedy)
    assert stages["samples/default"]["drawn"] == "prior density, argmax decoding"
    default = [s or None for s in samples_path(model, "default").read_text().split("\n")[:60]]
    assert default == sample(model, 60, seed=0).strings
    assert stages["samples/default"]["valid"] == pytest.approx(valid_mask("smiles", default).mean())
    saved = json.loads((zinc_run / EVALUATION).read_text())
    assert json.dumps(saved["stages"]) == json.dumps(stages)  # as text: a sample without valid strings has NaNs
    for shared in ("training_forms", "reference_features", "run_density"):  # nor what the stages share
        monkeypatch.setattr(protocol, shared, lambda *_, name=shared, **__: pytest.fail(f"{name} ran on a resume"))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="grammar_rae"):
        again = evaluate(model, settings, workers=1)
    assert json.dumps(again["stages"]) == json.dumps(stages) and not [
        r for r in caplog.records if r.getMessage().endswith(" ...")
    ]
    monkeypatch.undo()
    caplog.clear()  # --stages samples --force: the samples stages again, the others kept
    only_samples = EvaluationSettings(**{**settings.__dict__, "stages": ("samples",)})
    with caplog.at_level(logging.INFO, logger="grammar_rae.evaluation"):
        forced = evaluate(model, only_samples, workers=1, force=True)
    assert [r.getMessage() for r in caplog.records] == ["samples/gmm ...", "samples/prior ...", "samples/default ..."]
    assert {k: v for k, v in forced["stages"].items() if not k.startswith("samples/")} == {
        k: v for k, v in stages.items() if not k.startswith("samples/")
    }
    assert forced["stages"]["samples/gmm"]["valid"] == stages["samples/gmm"]["valid"]  # the same draws


def test_interpolation_and_bad_input(expr_run):
    model = TrainedModel.load(expr_run)
    path = interpolate(model, "x + 1", "sin( x ) * 3", steps=6)
    assert [round(t, 1) for t, _ in path] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    with pytest.raises(GrammarRAEError, match=r"input 2: Unknown token '-'"):
        interpolate(model, "x + 1", "x - 1")


def test_cli_sample_json_and_files(expr_run, capsys):
    assert main(["sample", "--model", str(expr_run), "--n", "100", "--json", "--report", "validity,properties"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 100 and report["validity"] == report["valid"] / 100
    assert (torch.tensor([1e-39]) * 1.0).item() > 0  # the command flushed denormals and gave the default back
    assert report["novelty"] is None  # not asked for: the training data is not even read
    assert report["density"] == "kernel"  # the default of deterministic models (docs/latent-space.md)
    first = expr_run / "samples" / "kernel-n100-seed0.csv"
    table = pd.read_csv(first, keep_default_na=False)
    assert list(table.columns) == ["string", "valid"] and len(table) == 100
    # each string carries its validity, in the file and in the JSON, and it is the grammar's own judgement
    assert table["valid"].tolist() == valid_mask("expr", [s or None for s in table["string"]]).tolist()
    assert [r["valid"] for r in report["strings"]] == table["valid"].tolist() and table["valid"].sum() == report[
        "valid"
    ]
    assert main(["sample", "--model", str(expr_run), "--n", "100", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["out"] == str(first)  # the same settings rewrite the same file, never a copy
    strings = [s or None for s in pd.read_csv(first, keep_default_na=False)["string"]]  # the same file, rewritten
    distinct = {c for c in canonical_many("expr", strings) if c is not None}
    training = {c for c in canonical_many("expr", RunData.of(expr_run).strings("train")) if c is not None}
    assert report["novelty"] == pytest.approx(len(distinct - training) / len(distinct))  # in the default report
    assert (
        main(["sample", "--model", str(expr_run), "--n", "100", "--decode", "sample", "--temperature", "0.5", "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["out"].endswith("kernel-n100-seed0-sample-t0.5.csv")
    assert main(["sample", "--model", str(expr_run), "--n", "100", "--bandwidth", "0.3", "--json"]) == 0
    wider = json.loads(capsys.readouterr().out)
    assert wider["out"].endswith("kernel-n100-seed0-h0.3.csv") and wider["strings"] != report["strings"]
    assert main(["sample", "--model", str(expr_run), "--n", "100", "--components", "40000", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(first)  # the default, named: the same file
    fitted = {}
    for h in ("0.1", "0.3"):  # fit-density scores the validation codes with the bandwidth asked for
        assert main(["fit-density", "--model", str(expr_run), "--density", "kernel", "--bandwidth", h]) == 0
        printed = capsys.readouterr().out
        assert f"bandwidth={h}" in printed
        fitted[h] = printed.splitlines()[-1]
    assert fitted["0.1"] != fitted["0.3"]
    for bad, says in (
        (["--density", "gmm", "--bandwidth", "0.3"], "--bandwidth sets a kernel density's noise"),
        (["--density", "prior", "--components", "5"], "--components sets a GMM or a kernel density"),
        (["--density", "gmm", "--faithful", "0.4"], "--faithful chooses a kernel density's codes"),
    ):
        assert main(["sample", "--model", str(expr_run), "--n", "10", *bad]) == 1
        assert says in capsys.readouterr().err
    assert main(["sample", "--model", str(expr_run), "--n", "100", "--temperature", "0.5"]) == 1
    assert (
        "--temperature changes sampled decoding only, and argmax decoding is the default: add --decode sample."
        in capsys.readouterr().err
    )
    assert main(["sample", "--model", str(expr_run), "--n", "5"]) == 0
    assert "of 5 are valid" in capsys.readouterr().out
    assert main(["sample", "--model", str(expr_run), "--n", "10", "--out", str(first)]) == 1
    assert "exists" in capsys.readouterr().err


def test_sample_files_take_the_format_their_name_says(expr_run, tmp_path, capsys):
    """.csv/.tsv: a table; .smi/.txt: a string per line, its validity as the title (read back by ``read_strings``
    as the strings alone, and by RDKit's SmilesMolSupplier); other names are refused before any work."""
    outs = {suffix: tmp_path / f"s{suffix}" for suffix in (".csv", ".tsv", ".txt")}
    for out in outs.values():
        assert (
            main(["sample", "--model", str(expr_run), "--n", "20", "--out", str(out), "--json", "--report", "validity"])
            == 0
        )
    table = pd.read_csv(outs[".csv"], keep_default_na=False)
    assert pd.read_csv(outs[".tsv"], sep="\t", keep_default_na=False).equals(table)
    lines = outs[".txt"].read_text().splitlines()
    assert lines == [f"{s}\t{'valid' if ok else 'invalid'}" for s, ok in zip(table["string"], table["valid"])]
    assert (
        " " in table["string"][0] and read_strings(outs[".txt"])[1] == table["string"].tolist()
    )  # expressions keep their spaces
    assert main(["sample", "--model", str(expr_run), "--n", "20", "--out", str(tmp_path / "s.xlsx")]) == 1
    assert "Cannot tell the format of" in capsys.readouterr().err.splitlines()[-1]
    assert not (tmp_path / "s.xlsx").exists()

    smi = tmp_path / "m.smi"
    write_strings(smi, ["CCO", "C1CC", None, "c1ccccc1"], [True, False, False, True])
    assert smi.read_text() == "CCO valid\nC1CC invalid\n invalid\nc1ccccc1 valid\n"
    assert read_strings(smi) == ([1, 2, 3, 4], ["CCO", "C1CC", "", "c1ccccc1"])
    supplier = Chem.SmilesMolSupplier(str(smi), titleLine=False, sanitize=True)
    titles = [(m.GetProp("_Name"), Chem.MolToSmiles(m)) if m is not None else None for m in supplier]
    assert titles[0] == ("valid", "CCO") and titles[1] is None and titles[3] == ("valid", "c1ccccc1")
    (tmp_path / "named.smi").write_text("CCO ethanol\nc1ccccc1\tbenzene\n")  # titles after a space or a tab
    assert read_strings(tmp_path / "named.smi")[1] == ["CCO", "c1ccccc1"]


def test_cli_interpolate_marks_each_string(expr_run, capsys):
    assert main(["interpolate", "x + 1", "sin( x ) * 3", "--model", str(expr_run), "--steps", "4"]) == 0
    captured = capsys.readouterr()
    rows = [line.split("\t") for line in captured.out.splitlines()]
    assert [r[0] for r in rows] == ["0.000", "0.333", "0.667", "1.000"]
    marks = valid_mask("expr", [None if r[1] == "(no complete string)" else r[1] for r in rows])
    assert [r[2] for r in rows] == ["valid" if ok else "INVALID" for ok in marks] and {len(r) for r in rows} == {3}
    assert f"{int(marks.sum())} of 4 points decode to valid strings; the path starts at A: " in captured.err


def test_strings_without_a_model_pick_a_model_of_their_grammar(tmp_path, expr_run, capsys, monkeypatch):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "expr-grae").symlink_to(expr_run)  # the latest run is an expression model
    monkeypatch.chdir(tmp_path)
    assert (
        grammar_of(["CCO", "c1ccccc1"]) == "smiles"
        and grammar_of(["x + 1"]) == "expr"
        and grammar_of(["CCO", "x + 1"]) is None
    )
    assert main(["interpolate", "CCO", "CCN", "--steps", "2"]) == 0
    assert "using the shipped pretrained:zinc-grae" in capsys.readouterr().err
    assert main(["encode", "x + 1"]) == 0
    assert "Using the most recent run: runs/expr-grae" in capsys.readouterr().err


def test_cli_plots(zinc_run, capsys):
    assert main(["sample", "--model", str(zinc_run), "--n", "40", "--density", "gmm", "--plots", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    figures = [line.split()[-1] for line in printed.splitlines() if line.strip().startswith("figure")]
    assert {f.rsplit("-", 1)[1] for f in figures} >= {"latent.png", "properties.png"}
    assert all(open(f, "rb").read(8) == b"\x89PNG\r\n\x1a\n" for f in figures)


def test_cli_errors(tmp_path, expr_run, capsys, monkeypatch):
    assert main(["sample", "--model", str(tmp_path), "--n", "5"]) == 1
    assert "holds no grammar-rae run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["sample", "--model", str(expr_run), "--n", "0"])
    assert stop.value.code == 2 and "must be at least 1" in capsys.readouterr().err
    assert main(["interpolate", "x", "x -", "--model", str(expr_run)]) == 1
    assert "Unknown token" in capsys.readouterr().err
    assert main(["sample", "--model", str(expr_run), "--report", "beauty"]) == 1
    assert "Unknown report beauty" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # no runs/, and no shipped model for a grammar of one's own
    with pytest.raises(RunError, match="No trained toy run found in runs/"):
        find_run(grammar="toy")


def test_latest_run_is_the_default(tmp_path, expr_run):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "old").symlink_to(expr_run)
    assert find_run(None, tmp_path / "runs") == tmp_path / "runs" / "old"


def test_cli_evaluate_and_export(expr_run, tmp_path, capsys):
    argv = [
        "evaluate",
        "--model",
        str(expr_run),
        "--test-strings",
        "20",
        "--decodes",
        "2",
        "--prior-points",
        "10",
        "--prior-decodes",
        "2",
        "--samples",
        "30",
        "--densities",
        "gmm",
        "--no-fcd",
        "--workers",
        "1",
        "--json",
        "--force",
    ]
    assert main(argv) == 0
    stages = json.loads(capsys.readouterr().out)["stages"]
    assert {"reconstruction", "reconstruction/greedy", "reconstruction/beam", "validity/gmm", "samples/gmm"} <= set(
        stages
    )
    assert (
        stages["reconstruction"]["n"] == 20
        and stages["validity/gmm"]["points"] == 10
        and stages["samples/gmm"]["n"] == 30
    )
    saved = json.loads((expr_run / EVALUATION).read_text())["stages"]
    assert saved["samples/gmm"] == stages["samples/gmm"]
    assert main(["fit-density", "--model", str(expr_run), "--density", "kernel"]) == 0
    assert main(["export", "--model", str(expr_run), "--name", "mine", "--out", str(tmp_path)]) == 0
    assert "Exported" in capsys.readouterr().out
    card = (tmp_path / "mine" / "README.md").read_text()
    assert f"valid {stages['samples/gmm']['validity']:.3f}" in card and "sample validity, ex-post GMM" in card
    assert TrainedModel.load(tmp_path / "mine", "cpu").latent_dim == TrainedModel.load(expr_run, "cpu").latent_dim


def test_a_faithful_kernel_keeps_only_codes_that_decode_to_their_own_string(expr_run, capsys):
    """fit-density --faithful T: a kernel on the training codes whose greedy decode is their own
    expression (the similarity of strings other than molecules: the same or not), stored under its
    own name beside the plain kernel; a similarity outside 0..1 is refused by the parser."""
    args = ["fit-density", "--model", str(expr_run), "--density", "kernel", "--components", "20", "--faithful", "1"]
    assert main(args) == 0
    assert "faithful=1" in capsys.readouterr().out
    density = LatentDensity.load(expr_run / density_filename("kernel", 20, 1.0))
    model = TrainedModel.load(expr_run)
    decoded = model.decode(density.means_.astype(np.float32), "argmax")
    assert density.components == 20 and set(decoded) <= set(model.data.strings("train"))
    assert main(["sample", "--model", str(expr_run), "--n", "5", "--json"]) == 0  # expressions: every code by default
    assert json.loads(capsys.readouterr().out)["faithful"] == 0
    with pytest.raises(SystemExit):
        main(["sample", "--model", str(expr_run), "--faithful", "1.5"])
    assert "must be a similarity from 0 to 1" in capsys.readouterr().err
