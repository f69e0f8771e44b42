"""The shipped models: ``pretrained:NAME`` loads and samples with no data and no training, and
whatever it writes goes to the user cache, never into the package."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from grammar_rae.cli.main import main
from grammar_rae.data.domains import morgan_similarity
from grammar_rae.errors import GrammarRAEError
from grammar_rae.generation import pretrained
from grammar_rae.generation.sampling import faithful_codes
from grammar_rae.generation.trained import TrainedModel, find_run
from grammar_rae.objectives.registry import get_objective
from grammar_rae.optimization.bo import training_targets
from grammar_rae.optimization.records import objective_folder
from grammar_rae.reproduce.model_card import export_model, model_card


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """No data directory and an empty cache: nothing may need the training data (or a download)."""
    monkeypatch.setenv("GRAMMAR_RAE_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("GRAMMAR_RAE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("name", ["expr-grae", "expr-gvae"])
def test_shipped_expression_models_sample_valid_expressions(name, no_data, capsys):
    assert name in pretrained.available()
    shipped = {p: p.stat().st_mtime_ns for p in pretrained.shipped_root().rglob("*")}
    # the shipped ex-post GMM (the default for GRAE; a VAE samples N(0, I) unless told)
    assert (
        main(
            [
                "sample",
                "--model",
                f"pretrained:{name}",
                "--n",
                "300",
                "--density",
                "gmm",
                "--report",
                "validity",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["validity"] > 0.9 and report["novelty"] is None
    assert report["out"].startswith(str(no_data))  # samples go to the user cache
    assert {p: p.stat().st_mtime_ns for p in pretrained.shipped_root().rglob("*")} == shipped
    for name in pretrained.available():  # every shipped model loads, with its GMM, and writes to the cache
        model = TrainedModel.load(f"pretrained:{name}", "cpu")
        assert model.config.model == name.split("-")[1] and model.work_folder == no_data / "pretrained" / name
        assert (model.folder / "density-gmm10.npz").exists() and (model.folder / "README.md").exists()


def test_shipped_molecule_model_samples_valid_molecules(no_data, capsys):
    """pretrained:zinc-grae (autoregressive decoder) samples valid molecules with the SMILES
    constraints, and far fewer with the grammar mask alone; the paper-decoder model stays loadable."""
    reports = {}
    for constraints in ("auto", "none"):
        assert (
            main(
                [
                    "sample",
                    "--model",
                    "pretrained:zinc-grae",
                    "--n",
                    "200",
                    "--report",
                    "validity,uniqueness",
                    "--constraints",
                    constraints,
                    "--json",
                ]
            )
            == 0
        )
        reports[constraints] = json.loads(capsys.readouterr().out)
    assert reports["auto"]["validity"] >= 0.97 and reports["auto"]["uniqueness"] >= 0.97
    assert reports["none"]["validity"] <= 0.92  # 0.86 from the default kernel density (the constraints: 1.00)
    # the default: a kernel on the codes that decode faithfully, shipped with the model, so sampling needs no data
    assert reports["auto"]["density"] == "kernel" and reports["auto"]["faithful"] == 0.4
    assert reports["auto"]["out"].endswith("kernel-n200-seed0.csv")  # the default's name carries no -faithful
    old = TrainedModel.load("pretrained:zinc-grae-paper-decoder", "cpu")
    assert (
        old.config.decoder == "repeat"
        and TrainedModel.load("pretrained:zinc-grae", "cpu").config.decoder == "autoregressive"
    )


def test_unknown_pretrained_model_is_one_sentence(capsys):
    assert main(["sample", "--model", "pretrained:zinc-transformer", "--n", "5"]) == 1
    err = capsys.readouterr().err
    assert "No pretrained model 'zinc-transformer'" in err and "expr-grae" in err


def test_export_writes_a_loadable_model_with_its_card(tmp_path, expr_run, expr_slice):
    bare = shutil.copytree(expr_run, tmp_path / "bare", ignore=shutil.ignore_patterns("density-*"))
    with pytest.raises(
        GrammarRAEError, match="no fitted gmm or kernel density yet: run .*--density gmm.*--density kernel"
    ):
        export_model(bare, "my-expr", tmp_path)
    main(["fit-density", "--model", str(expr_run)])
    main(["fit-density", "--model", str(expr_run), "--density", "kernel"])
    target = export_model(expr_run, "my-expr", tmp_path)
    assert (target / "density-kernel40000.npz").exists()  # what `sample` draws from, offline
    assert not (target / "checkpoint.pt").exists()
    # an unregistered data file stays a path (a registered one becomes its name, e.g. expr100k)
    assert json.loads((target / "config.json").read_text())["data"]["source"] == str(expr_slice.resolve())
    card = (target / "README.md").read_text()
    assert "pretrained:my-expr" in card and "best validation loss" in card
    assert TrainedModel.load(target, "cpu").decode(TrainedModel.load(expr_run, "cpu").codes("test")[:5])


def test_a_shipped_run_exports_again_in_place(tmp_path, expr_run, monkeypatch):
    """A run whose weights ship (its folder names them in weights.json) exports again to its own
    model, to refresh the card, keeping the shipped weights where they are."""
    import hashlib

    from grammar_rae import run_folder

    main(["fit-density", "--model", str(expr_run)])
    main(["fit-density", "--model", str(expr_run), "--density", "kernel"])
    weights = (expr_run / "model.pt").read_bytes()
    export_model(expr_run, "mine", tmp_path)
    run = shutil.copytree(expr_run, tmp_path / "run", ignore=shutil.ignore_patterns("model.pt", "checkpoint.pt"))
    record = {"file": "model.pt", "sha256": hashlib.sha256(weights).hexdigest(), "shipped_as": "pretrained:mine"}
    (run / "weights.json").write_text(json.dumps(record))
    monkeypatch.setattr(run_folder, "shipped_root", lambda: tmp_path)
    target = export_model(run, "mine", tmp_path)
    assert (target / "model.pt").read_bytes() == weights and "pretrained:mine" in (target / "README.md").read_text()


def test_without_a_local_run_the_shipped_model_of_the_grammar_is_used(no_data, tmp_path, monkeypatch, capsys, expr_run):
    monkeypatch.chdir(tmp_path)  # no runs/ here
    assert main(["sample", "--n", "40", "--report", "validity", "--json"]) == 0
    captured = capsys.readouterr()
    assert "using the shipped pretrained:zinc-grae" in captured.err
    report = json.loads(captured.out)
    assert report["n"] == 40 and report["validity"] >= 0.9  # the autoregressive model with SMILES constraints
    assert find_run(grammar="expr") == pretrained.pretrained_folder("pretrained:expr-grae")
    # a local run of one grammar is preferred for that grammar only
    (tmp_path / "runs").mkdir()
    shutil.copytree(expr_run, tmp_path / "runs" / "mine")
    assert find_run(grammar="expr") == Path("runs") / "mine" and find_run() == Path("runs") / "mine"
    assert find_run(grammar="smiles") == pretrained.pretrained_folder("pretrained:zinc-grae")


@pytest.mark.parametrize("name, objective_name", [("expr-grae", "expr-fit"), ("zinc-grae", "penalized-logp")])
def test_shipped_models_carry_their_training_targets(isolated_cache, name, objective_name):
    model = TrainedModel.load(f"pretrained:{name}", "cpu")
    objective = get_objective(objective_name)
    targets = training_targets(model, objective)
    assert len(targets) == len(model.data.rows("train"))
    assert not (objective_folder(model, objective) / "targets.npy").exists()  # read from the package, not recomputed
    np.testing.assert_allclose(targets[:300], objective(model.data.strings("train")[:300]))


def test_the_model_card_gives_every_bo_of_the_run_protocol_first():
    run = Path(__file__).resolve().parents[1] / "results" / "molecules-ar" / "grae"
    card = model_card(run, "zinc-grae-paper-encoder")
    rows = [line for line in card.splitlines() if line.startswith("| BO of penalized-logp")]
    assert len(rows) == 2 and rows[1].startswith("| BO of penalized-logp, acquisition floor-ei (10 seeds")
    for row, folder in zip(rows, ["penalized-logp", "penalized-logp-6a28cbf6"]):
        result = json.loads((run / "optimization" / folder / "optimization.json").read_text())
        assert (
            f"average {result['bo']['average_score']['mean']:.2f} ± {result['bo']['average_score']['sem']:.2f}" in row
        )
        assert f"best {result['bo']['top'][0]['score']:.2f}" in row and f"({len(result['bo']['seeds'])} seeds" in row
    assert "random GMM baseline" in rows[0] and "below the density floor 0.00" in rows[1]
    # the protocol's row stands beside the paper's figures for the same model (data/paper_results.json)
    assert "the RAE paper, same model: valid 0.72 ± 0.09, average -5.62 ± 0.71, top 3.74" in rows[0]
    assert "RAE paper" not in rows[1]
    assert (
        card
        == (Path(__file__).resolve().parents[1] / "pretrained" / "zinc-grae-paper-encoder" / "README.md").read_text()
    )


def test_every_spelling_of_a_molecule_gets_one_code(no_data, capsys, zinc):
    """The shipped model was trained on canonical Kekulé SMILES; a molecule written as users write
    it (canonical aromatic, Kekulé, any atom order) is read in that form, so it gets one code, and
    reconstruction counts a decode of it as exact. What is no molecule is refused per item."""
    from rdkit import Chem

    from grammar_rae.evaluation.reconstruction import reconstruction_accuracy

    model = TrainedModel.load("pretrained:zinc-grae", "cpu")
    assert model.kekule and model.input_form == "canonical Kekulé SMILES"
    molecules = zinc[:20]
    spellings = []
    for i, smiles in enumerate(molecules):
        mol = Chem.MolFromSmiles(smiles)
        kekule = Chem.Mol(mol)
        Chem.Kekulize(kekule, clearAromaticFlags=True)
        spellings.append(
            [
                Chem.MolToSmiles(mol),
                Chem.MolToSmiles(kekule, kekuleSmiles=True),
                Chem.MolToRandomSmilesVect(mol, 1, randomSeed=i)[0],
            ]
        )
    flat = [text for row in spellings for text in row]
    assert len(set(flat)) > 2 * len(molecules)  # the spellings differ as strings
    codes, errors = model.encode(flat)
    assert errors == {}
    codes = codes.reshape(len(molecules), 3, -1)
    assert np.array_equal(codes[:, 0], codes[:, 1]) and np.array_equal(codes[:, 0], codes[:, 2])
    assert len({row.tobytes() for row in codes[:, 0]}) == len(molecules)
    aromatic = [row[0] for row in spellings]
    as_trained = reconstruction_accuracy(model, [row[1] for row in spellings], mode="beam")
    assert reconstruction_accuracy(model, aromatic, mode="beam").accuracy == as_trained.accuracy
    _, errors = model.encode(["C1CC", "CCO", "c1cccc1"])
    assert errors == {
        0: "'C1CC' is not a molecule: RDKit cannot read it.",
        2: "'c1cccc1' is not a molecule: RDKit cannot read it.",
    }

    assert main(["encode", "--model", "pretrained:zinc-grae", "c1ccccc1O", "OC1=CC=CC=C1", "C1CC"]) == 1
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert records[0]["read_as"] == records[1]["read_as"] == "OC1=CC=CC=C1" and records[0]["z"] == records[1]["z"]
    assert records[2] == {"input": "C1CC", "error": "'C1CC' is not a molecule: RDKit cannot read it."}
    assert (
        "Read as canonical Kekulé SMILES, the form the model was trained on: 1 of 3 inputs rewritten." in captured.err
    )
    assert main(["interpolate", "--model", "pretrained:zinc-grae", "CCO", "OC1=CC=CC=C1", "--steps", "3"]) == 0
    captured = capsys.readouterr()
    rows = [line.split("\t") for line in captured.out.splitlines()]
    starts, ends = rows[0][3] in ("CCO (= A)",), rows[-1][3] in ("Oc1ccccc1 (= B)",)
    assert [len(r) for r in rows] == [4, 4, 4]  # molecules: the canonical SMILES beside each decoded string
    assert f"the path starts at A: {'yes' if starts else 'no'}, ends at B: {'yes' if ends else 'no'}." in captured.err
    assert main(["interpolate", "--model", "pretrained:zinc-grae", "CCO", "C1CC"]) == 1
    assert "Cannot encode input 2: 'C1CC' is not a molecule" in capsys.readouterr().err


@pytest.fixture
def no_network(monkeypatch):
    """Any download attempt fails the test: what works offline must not try one."""
    import urllib.request

    def refuse(*args, **kwargs):
        raise AssertionError(f"a download was attempted: {args[0] if args else kwargs}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_sample_works_offline_and_says_what_needs_the_data_set(no_data, no_network, tmp_path, monkeypatch, capsys):
    """Fresh install, empty home, no data folder, no network: the plain ``sample`` reports what it
    can and says in one line how to get novelty; ``--json`` gives null with the reason."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["sample"]) == 0  # the plainest form, with its default number of samples
    out = capsys.readouterr().out
    assert "validity" in out and "uniqueness" in out
    assert (
        "novelty: needs the training set, which is not on this machine: `grammar-rae data prepare --grammar smiles`"
        in out
    )
    assert main(["sample", "--n", "300", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (
        report["n"] == 300
        and report["validity"] > 0.9
        and report["novelty"] is None
        and "data prepare" in report["missing"]["novelty"]
    )
    (tmp_path / "gen.smi").write_text("CCO\nc1ccccc1\n")
    assert main(["metrics", str(tmp_path / "gen.smi")]) == 1
    err = capsys.readouterr().err
    assert "ZINC250k splits, which are not on this machine" in err and "--test FILE and --train FILE" in err
    assert len(err.strip().splitlines()) == 1


def test_optimize_works_offline_from_the_density(no_data, no_network, tmp_path, monkeypatch, capsys):
    """Without the training set, BO starts from points drawn from the shipped model's ex-post density,
    for a built-in objective and a user's ``module:function``; the objective calls are counted."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["optimize", "--objective", "qed", "--seeds", "1", "--iterations", "1", "--batch", "5"]) == 0
    captured = capsys.readouterr()
    assert "BO starts from 100 points drawn from the model's ex-post density and scored" in captured.err
    assert "objective calls per seed: 100 to score the start, 5 proposals" in captured.out
    bo_row = next(line for line in captured.out.splitlines() if line.startswith("bo "))
    assert float(bo_row.split()[1]) >= 0.6  # fraction valid of the 5 proposals

    (tmp_path / "mymodule.py").write_text(
        "from rdkit import Chem\n\n\ndef score(smiles):\n"
        "    return [Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in smiles]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert (
        main(
            [
                "optimize",
                "--objective",
                "mymodule:score",
                "--seeds",
                "1",
                "--iterations",
                "2",
                "--batch",
                "3",
                "--initial",
                "40",
                "--attempts",
                "5",
                "--no-baseline",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["settings"]["start"] == "density" and result["settings"]["initial"] == 40
    assert result["bo"]["objective_calls"]["start"] == 40 and result["bo"]["objective_calls"]["proposals"] == 6
    assert result["bo"]["top"][0]["score"] >= 10  # heavy atoms of a real molecule
    seed = json.loads(next(no_data.rglob("mymodule_score-*/seed-1.json")).read_text())
    assert len(seed["design"]) == 40 and seed["objective_calls"] == {"start": 40, "proposals": 6}


def test_a_run_folder_knows_where_each_file_is(no_data, tmp_path):
    """A shipped model writes into the user cache and is read from there first, then from the package;
    a run of one's own keeps everything in its folder."""
    from grammar_rae.run_folder import RunFolder

    shipped = RunFolder(pretrained.pretrained_folder("pretrained:expr-grae"))
    assert shipped.is_shipped and shipped.work == no_data / "pretrained" / "expr-grae"
    assert shipped.density("gmm").name == "density-gmm10.npz" and shipped.density("gmm").parent == shipped.work
    own_copy = shipped.path / "density-gmm10.npz"
    assert shipped.stored(shipped.density("gmm")) == [shipped.density("gmm"), own_copy] and own_copy.exists()
    assert shipped.optimization("qed").relative_to(shipped.work).parts == ("optimization", "qed")
    mine = RunFolder(tmp_path / "run")
    assert (
        not mine.is_shipped
        and mine.work == mine.path
        and mine.stored(mine.evaluation) == [mine.path / "evaluation.json"]
    )
    assert mine.samples("gmm", ".smi") == mine.path / "samples" / "gmm.smi" and mine.weights.name == "model.pt"


def test_a_finished_run_reads_its_weights_from_the_model_it_shipped_as(tmp_path):
    """results/expressions/grae keeps no copy of the weights it shipped as pretrained:expr-grae."""
    import torch

    from grammar_rae.run_folder import RunError

    source = Path(__file__).resolve().parents[1] / "results" / "expressions" / "grae"
    run = tmp_path / "grae"
    run.mkdir()
    for name in ("config.json", "best.json", "weights.json"):
        shutil.copyfile(source / name, run / name)
    mine, shipped = TrainedModel.load(run, "cpu"), TrainedModel.load("pretrained:expr-grae", "cpu")
    assert mine.work_folder == run  # results go to the run folder, the weights come from the package
    for key, value in shipped.network.state_dict().items():
        assert torch.equal(mine.network.state_dict()[key], value), key
    record = json.loads((run / "weights.json").read_text())
    (run / "weights.json").write_text(json.dumps(record | {"sha256": "0" * 64}))
    with pytest.raises(RunError, match="ship as pretrained:expr-grae, which this installation lacks or holds"):
        TrainedModel.load(run, "cpu")


def test_nearest_decoding_gives_encoded_molecules_back_more_often_than_greedy(no_data, tmp_path, capsys, zinc):
    """Of the greedy decode and the candidates drawn, nearest decoding keeps the valid one whose code
    lies nearest: an encoded molecule's own code is nearest of all wherever it is among them, so every
    greedy hit stays a hit and the candidates add more."""
    from grammar_rae.data.validity import canonical_many

    model = TrainedModel.load("pretrained:zinc-grae", "cpu")
    molecules = canonical_many("smiles", zinc[1000:1100])  # canonical aromatic, as users write them
    codes, errors = model.encode(molecules)
    assert errors == {}
    greedy = canonical_many("smiles", model.decode(codes, "argmax"))
    nearest = model.decode(codes, "nearest", generator=torch.Generator().manual_seed(0), candidates=30)
    back = canonical_many("smiles", nearest)
    assert all(b is not None for b in back)  # only valid candidates are kept
    hits_greedy = {i for i, (g, m) in enumerate(zip(greedy, molecules)) if g == m}
    hits_nearest = {i for i, (b, m) in enumerate(zip(back, molecules)) if b == m}
    assert hits_greedy <= hits_nearest and len(hits_nearest) >= len(hits_greedy) + 3
    again, _ = model.encode(nearest)  # each kept decode is at least as near its code as the greedy one
    greedy_codes, _ = model.encode([g or "C" for g in greedy])
    assert np.all(np.sum((again - codes) ** 2, axis=1) <= np.sum((greedy_codes - codes) ** 2, axis=1) + 1e-6)
    with pytest.raises(GrammarRAEError, match="at least 1 candidate, not 0"):
        model.decode_nearest(codes[:1], 0)

    vectors = tmp_path / "z.jsonl"
    vectors.write_text(json.dumps({"z": codes[0].tolist()}) + "\n")
    args = ["decode", "--model", "pretrained:zinc-grae", "--file", str(vectors), "--decode", "nearest"]
    assert main([*args, "--candidates", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["output"] is not None
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--candidates", "0"])
    assert exit_.value.code == 2 and "argument --candidates: 0 must be at least 1" in capsys.readouterr().err


def test_a_faithful_kernel_keeps_the_codes_that_decode_like_their_molecules(no_data, zinc):
    """faithful_codes keeps, in the order given, exactly the codes whose greedy decode has a Morgan
    Tanimoto similarity of at least t to their own molecule (written as RDKit writes it), and stops
    at the number wanted."""
    model = TrainedModel.load("pretrained:zinc-grae", "cpu")
    molecules = zinc[1000:1060]
    codes, errors = model.encode(molecules)
    assert not errors
    decoded = model.decode(codes, "argmax")
    similarity = np.array([morgan_similarity(d, m) for d, m in zip(decoded, molecules)])
    kept = faithful_codes(model, codes, molecules, 0.4, wanted=100, chunk=25)
    assert kept.tolist() == np.flatnonzero(similarity >= 0.4).tolist() and 0 < len(kept) < len(molecules)
    assert faithful_codes(model, codes, molecules, 0.4, wanted=3, chunk=25).tolist() == kept[:3].tolist()
    assert morgan_similarity("Oc1ccccc1", "OC1=CC=CC=C1") == 1.0 and morgan_similarity("C1CC", "CCO") == 0.0
    assert 0 < morgan_similarity("Oc1ccccc1", "Nc1ccccc1") < 1
