"""Training end to end: all models on both grammars, run folders, exact resume, failures, DDP."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from grammar_rae import run_folder as rf
from grammar_rae.cli.main import main
from grammar_rae.errors import GrammarRAEError
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.models import MODELS
from grammar_rae.run_folder import RunData, weights_digest
from grammar_rae.training import Trainer, train
from grammar_rae.training import trainer as trainer_module
from grammar_rae.training.distributed import World, shard
from grammar_rae.training.trainer import TrainingError

SMALL = dict(preset="cpu", gru_hidden=32, gru_layers=1, latent_dim=8, batch_size=64)


def _train(grammar, data, out, **kw):
    settings = {**SMALL, "epochs": 2, **kw}
    return train(grammar, data=data, out=out, **settings)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("grammar", ["smiles", "expr"])
def test_every_model_trains_on_both_grammars(model, grammar, zinc_slice, expr_slice, tmp_path):
    data = zinc_slice if grammar == "smiles" else expr_slice
    result = _train(grammar, data, tmp_path / "run", model=model)
    assert [m["epoch"] for m in result.metrics] == [1, 2]
    assert all(torch.isfinite(torch.tensor(m["val_loss"])) for m in result.metrics)
    assert result.metrics[1]["train_loss"] < result.metrics[0]["train_loss"]  # it learns
    for name in (rf.CONFIG, rf.CHECKPOINT, rf.WEIGHTS, rf.METRICS, rf.BEST):
        assert (result.folder / name).is_file()
    config = json.loads((result.folder / rf.CONFIG).read_text())
    assert config["model"]["model"] == model and config["grammar_hash"]
    trained = TrainedModel.load(result.folder)
    codes, errors = trained.encode(["x + 1", "sin( x )"] if grammar == "expr" else ["CCO", "c1ccccc1"])
    assert codes.shape == (2, 8) and errors == {}
    assert len(trained.decode(codes)) == 2


@pytest.mark.parametrize("model", MODELS)
def test_the_autoregressive_decoder_trains_every_model(model, zinc_slice, tmp_path):
    result = _train("smiles", zinc_slice, tmp_path / "run", model=model, decoder="autoregressive", embedding_dim=12)
    assert result.metrics[1]["train_loss"] < result.metrics[0]["train_loss"]
    config = json.loads((result.folder / rf.CONFIG).read_text())["model"]
    assert (config["decoder"], config["embedding_dim"]) == ("autoregressive", 12)
    trained = TrainedModel.load(result.folder)
    assert type(trained.network.decoder).__name__ == "AutoregressiveDecoder"
    codes, _ = trained.encode(["CCO", "c1ccccc1"])
    assert len(trained.decode(codes)) == 2 and len(trained.decode_attempts(codes, 3, "sample")[1]) == 3
    if model != "cvae":
        assert len(trained.decode(codes, "beam", beam=3)) == 2


def test_kekule_training_data(zinc_slice, tmp_path):
    result = _train("smiles", zinc_slice, tmp_path / "run", model="grae", epochs=1, kekule=True)
    config = json.loads((result.folder / rf.CONFIG).read_text())
    assert config["data"]["kekule"] is True
    test = TrainedModel.load(result.folder).data.strings("test")
    assert test[0] == "CC(C)(C)C1=CC2=C(C=C1)OC=C2CC(=O)NC1=CC=CC=C1F"  # ZINC's first molecule, Kekulé form
    assert not any(c in "".join(test) for c in "cnos")
    with pytest.raises(rf.RunError, match="drop --kekule"):
        train("smiles", out=tmp_path / "run", resume=True, kekule=False)


def test_resume_after_an_epoch_is_exact(zinc_slice, tmp_path, caplog):
    straight = _train("smiles", zinc_slice, tmp_path / "straight", model="gvae")  # 2 epochs in one go
    _train("smiles", zinc_slice, tmp_path / "split", model="gvae", epochs=1)  # stopped at the epoch boundary
    with pytest.raises(rf.RunError, match="already holds a run"):
        _train("smiles", zinc_slice, tmp_path / "split", model="gvae")
    with pytest.raises(rf.RunError, match="these differ: batch_size"):
        _train("smiles", zinc_slice, tmp_path / "split", model="gvae", resume=True, batch_size=32)
    with caplog.at_level(logging.INFO, logger="grammar_rae"):
        finished = train("smiles", model="gvae", out=tmp_path / "split", resume=True, epochs=None)
    said = [record.getMessage() for record in caplog.records]
    assert [m["epoch"] for m in finished.metrics] == [1] and "has finished all 1 epochs: nothing to train" in said[0]
    assert _digest(tmp_path / "split") != _digest(tmp_path / "straight")
    # the epoch count is the one setting a resumed run may extend: epoch 2 continues exactly
    resumed = train("smiles", model="gvae", out=tmp_path / "split", resume=True, epochs=2)
    assert [m["epoch"] for m in resumed.metrics] == [1, 2]
    assert _digest(tmp_path / "split") == _digest(tmp_path / "straight")
    strip = lambda ms: [{k: v for k, v in m.items() if k not in ("seconds", "cpu_seconds")} for m in ms]  # noqa: E731
    assert strip(resumed.metrics) == strip(straight.metrics)
    # a finished run keeps model.pt and drops checkpoint.pt: resuming it (as reproduce does) trains nothing
    (tmp_path / "split" / rf.CHECKPOINT).unlink()
    weights = (tmp_path / "split" / rf.WEIGHTS).read_bytes()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="grammar_rae"):
        kept = train("smiles", out=tmp_path / "split", resume=True)
    said = [record.getMessage() for record in caplog.records]
    assert [m["epoch"] for m in kept.metrics] == [1, 2] and "was removed): nothing to train" in said[0]
    assert (tmp_path / "split" / rf.WEIGHTS).read_bytes() == weights
    with pytest.raises(rf.RunError, match="2 of 3 epochs but no checkpoint.pt"):
        train("smiles", out=tmp_path / "split", resume=True, epochs=3)


def test_resume_takes_grammar_model_and_preset_from_the_run(expr_slice, tmp_path, capsys):
    _train("expr", expr_slice, tmp_path / "run", model="gcvae", epochs=1)
    resumed = train(out=tmp_path / "run", resume=True, epochs=2)
    assert [m["epoch"] for m in resumed.metrics] == [1, 2]
    assert main(["train", "--resume", "--out", str(tmp_path / "run"), "--model", "grae", "--no-eval"]) == 1
    assert "holds a gcvae run, not grae: drop --model" in capsys.readouterr().err


def _digest(folder):
    return weights_digest(rf.load_tensors(folder / rf.CHECKPOINT)["model"])


@pytest.mark.parametrize(
    "extra",
    [{}, {"warmup_steps": 10, "precision": "bf16"}, {"decoder": "autoregressive"}],
    ids=["default", "warmup-bf16", "autoregressive"],
)
def test_interrupted_mid_epoch_resumes_exactly(zinc_slice, tmp_path, monkeypatch, extra):
    first = _train("smiles", zinc_slice, tmp_path / "straight", model="gvae", **extra)
    if "warmup_steps" in extra:  # the warm-up spans the interruption below: 6 of its 10 steps in epoch 1
        assert first.metrics[0]["lr"] == pytest.approx(1e-3 * 6 / 10)
    original = Trainer._step
    calls = {"n": 0}

    def interrupting(self, rows):
        calls["n"] += 1
        if calls["n"] == 8:  # the second batch of the second epoch (6 batches per epoch)
            raise KeyboardInterrupt
        return original(self, rows)

    clock = {"t": 0.0}

    def slow_clock():  # each reading of the trainer's clock before the cut is an hour later
        clock["t"] += 3600.0
        return clock["t"]

    monkeypatch.setattr(Trainer, "_step", interrupting)
    monkeypatch.setattr(trainer_module, "time", SimpleNamespace(perf_counter=slow_clock, process_time=slow_clock))
    with pytest.raises(KeyboardInterrupt):
        _train("smiles", zinc_slice, tmp_path / "cut", model="gvae", **extra)
    state = rf.load_tensors(tmp_path / "cut" / rf.CHECKPOINT)
    assert (state["epoch"], state["batch"], state["steps"]) == (1, 1, 7)
    assert state["epoch_seconds"] >= 3600.0 and state["epoch_cpu_seconds"] >= 3600.0
    monkeypatch.setattr(Trainer, "_step", original)
    monkeypatch.setattr(trainer_module, "time", time)
    resumed = train("smiles", model="gvae", out=tmp_path / "cut", resume=True)
    assert _digest(tmp_path / "cut") == _digest(tmp_path / "straight")
    straight = rf.read_metrics(tmp_path / "straight")
    strip = lambda ms: [{k: v for k, v in m.items() if k not in ("seconds", "cpu_seconds")} for m in ms]  # noqa: E731
    assert strip(resumed.metrics) == strip(straight)
    # the interrupted epoch's time (wall and CPU) counts the part before the cut
    assert resumed.metrics[1]["seconds"] >= 3600.0 and resumed.metrics[1]["cpu_seconds"] >= 3600.0


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(expr_slice, tmp_path, monkeypatch):
    original = Trainer._finish_epoch

    def poison_after_first_epoch(self, seconds, cpu_seconds):
        original(self, seconds, cpu_seconds)
        with torch.no_grad():
            self.model.decoder.output.bias.fill_(float("nan"))

    monkeypatch.setattr(Trainer, "_finish_epoch", poison_after_first_epoch)
    with pytest.raises(TrainingError, match="loss became nan at epoch 2, batch 1"):
        _train("expr", expr_slice, tmp_path / "run", epochs=3)
    state = rf.load_tensors(tmp_path / "run" / rf.CHECKPOINT)
    assert state["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())


def test_bad_runs_give_clear_errors(expr_slice, tmp_path):
    result = _train("expr", expr_slice, tmp_path / "run", epochs=1)
    (result.folder / rf.CHECKPOINT).write_bytes(b"garbage")
    with pytest.raises(rf.RunError, match="corrupt or not a grammar-rae checkpoint"):
        train("expr", out=result.folder, resume=True)
    config = json.loads((result.folder / rf.CONFIG).read_text())
    (result.folder / rf.CONFIG).write_text(json.dumps({**config, "grammar_hash": "0" * 64}))
    with pytest.raises(rf.RunError, match="different expr grammar"):
        train("expr", out=result.folder, resume=True)
    with pytest.raises(rf.RunError, match="holds no grammar-rae run"):
        TrainedModel.load(tmp_path)
    with pytest.raises(GrammarRAEError, match="Unknown device"):
        _train("expr", expr_slice, tmp_path / "other", device="tpu")
    with pytest.raises(GrammarRAEError, match="Unknown precision 'fp8'"):
        _train("expr", expr_slice, tmp_path / "other", precision="fp8")


def test_bf16_on_a_cpu_without_bfloat16_instructions_says_it_may_be_slower(monkeypatch, zinc_slice, tmp_path, caplog):
    monkeypatch.setattr("grammar_rae.training.api.cpu_has_native_bf16", lambda: False)
    result = _train("smiles", zinc_slice, tmp_path / "run", epochs=1, precision="bf16")  # a warning: shown by default
    assert json.loads((result.folder / rf.CONFIG).read_text())["train"]["precision"] == "bf16"
    assert any("no bfloat16 instructions" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    caplog.clear()
    _train("smiles", zinc_slice, tmp_path / "fp32", epochs=1)  # the cpu preset: fp32 on a CPU
    assert not any("bfloat16" in r.getMessage() for r in caplog.records)


def test_checkpoints_refuse_arbitrary_pickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"model": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(rf.RunError, match="corrupt or not a grammar-rae checkpoint"):
        rf.load_tensors(tmp_path / "evil.pt")


def _tiny_expr_run(data, out) -> list[str]:
    """``train`` arguments of a small expression model (epochs and batch size left to the caller)."""
    return [
        "train",
        "--grammar",
        "expr",
        "--data",
        str(data),
        "--out",
        str(out),
    ] + "--preset cpu --hidden 32 --layers 1 --latent-dim 8".split()


def test_cli_train_encode_decode(capsys, expr_slice, tmp_path):
    out = tmp_path / "run"
    threads = torch.get_num_threads()
    try:
        code = main(_tiny_expr_run(expr_slice, out) + ["--epochs", "1", "--batch-size", "64", "--threads", "1"])
        assert torch.get_num_threads() == 1  # --threads reached torch
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    assert code == 0 and "best epoch: 1" in printed and "test reconstruction (argmax decode, exact match):" in printed
    assert main(["encode", "--model", str(out), "x + 1", "x +"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(json.loads(lines[0])["z"]) == 8 and "incomplete" in json.loads(lines[1])["error"]
    (tmp_path / "z.jsonl").write_text(lines[0] + "\n")
    assert main(["decode", "--model", str(out), "--file", str(tmp_path / "z.jsonl")]) == 0
    assert "output" in json.loads(capsys.readouterr().out)
    assert main(["train", "--grammar", "expr", "--out", str(out), "--data", str(expr_slice)]) == 1
    assert "already holds a run" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_DDP_ARGS = [
    "train",
    "--grammar",
    "smiles",
    "--model",
    "grae",
    "--preset",
    "cpu",
    "--hidden",
    "32",
    "--layers",
    "1",
    "--latent-dim",
    "8",
    "--epochs",
    "2",
    "--batch-size",
    "32",
    "--device",
    "cpu",
    "--no-eval",
]


class _PairedTrainer(Trainer):
    """One process doing what two DDP processes do together: each step takes the batch each rank
    would take and averages their gradients (the test's reference for DDP)."""

    seen: list[list[tuple]] = []

    def _my_batches(self, epoch):
        everything = super()._my_batches(epoch)  # one process: all of the epoch's batches
        pairs = list(zip(shard(everything, World(0, 2)), shard(everything, World(1, 2))))
        self.seen.append(pairs)
        return pairs

    def _step(self, pair):
        self.optimizer.zero_grad(set_to_none=True)
        results = [self._backward(rows, scale=0.5) for rows in pair]
        self._apply()
        return results[0]


def test_ddp_with_two_cpu_processes_equals_one_process_on_the_same_global_batches(zinc_slice, tmp_path, monkeypatch):
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(_free_port()),
        "-m",
        "grammar_rae.cli.main",
        *_DDP_ARGS,
        "--data",
        str(zinc_slice),
        "--out",
        str(out),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600
    )
    assert done.returncode == 0, done.stderr[:3000] + "\n...\n" + done.stderr[-2000:]
    ddp = json.loads((out / "ddp.json").read_text())
    assert ddp["world_size"] == 2
    assert ddp["rank_digests"][0] == ddp["rank_digests"][1]  # both ranks hold the same model
    assert _digest(out) == ddp["rank_digests"][0]  # and it is the saved one
    assert len(rf.read_metrics(out)) == 2

    monkeypatch.setattr("grammar_rae.training.api.Trainer", _PairedTrainer)
    _PairedTrainer.seen = []
    assert main([*_DDP_ARGS, "--data", str(zinc_slice), "--out", str(tmp_path / "paired")]) == 0
    assert len(_PairedTrainer.seen) == 2 and all(len(pairs) >= 3 for pairs in _PairedTrainer.seen)
    train = set(RunData.of(tmp_path / "paired").splits.train.tolist())  # the epoch's rows, from the run's config alone
    for pairs in _PairedTrainer.seen:  # the two ranks' shards of an epoch are disjoint, and no row is taken twice,
        rows = np.concatenate([np.concatenate(pair) for pair in pairs])
        assert len(np.unique(rows)) == len(rows)
        # and together they cover the epoch: every training row but at most one batch (a last round one rank lacks)
        assert set(rows.tolist()) <= train and len(train) - len(rows) <= 32  # --batch-size 32
    ddp_weights = rf.load_tensors(out / rf.CHECKPOINT)["model"]
    paired_weights = rf.load_tensors(tmp_path / "paired" / rf.CHECKPOINT)["model"]
    assert ddp_weights.keys() == paired_weights.keys()
    for name, value in ddp_weights.items():
        torch.testing.assert_close(value, paired_weights[name], rtol=1e-4, atol=1e-5, msg=name)


def test_sigterm_saves_the_state(expr_slice, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "grammar_rae.cli.main"] + _tiny_expr_run(expr_slice, out)
    command += ["--epochs", "1000", "--batch-size", "16", "--no-eval"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / rf.METRICS).exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # the epoch's log line follows its metrics and checkpoint (a SIGTERM in between raced it)
    process.send_signal(signal.SIGTERM)
    printed, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err
    assert f"grammar-rae train --resume --out {out}" in err and "epoch 1: train loss" in err
    state = rf.load_tensors(out / rf.CHECKPOINT)
    finished = len(rf.read_metrics(out))
    assert finished >= 1 and (state["epoch"], state["batch"]) >= (finished, 0)


def test_top_level_api():
    import grammar_rae

    assert grammar_rae.train is train and grammar_rae.TrainedModel is TrainedModel
    with pytest.raises(AttributeError):
        grammar_rae.no_such_thing  # noqa: B018


def test_without_a_preset_train_repeats_the_shipped_recipe(zinc_slice, expr_slice, tmp_path, caplog):
    """``grammar-rae train --grammar G`` trains what the package ships for G: the shipped model's
    preset, model, architecture and data form, and says so in one line before training."""
    from grammar_rae.generation import pretrained
    from grammar_rae.models import ModelConfig
    from grammar_rae.run_folder import TrainConfig

    for grammar, data in (("smiles", zinc_slice), ("expr", expr_slice)):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="grammar_rae.training"):
            result = train(grammar, data=data, out=tmp_path / grammar, epochs=1)
        said = [r.getMessage() for r in caplog.records]
        config = json.loads((result.folder / rf.CONFIG).read_text())
        shipped = json.loads((pretrained.default_folder(grammar) / rf.CONFIG).read_text())
        assert config["preset"] == shipped["preset"]
        assert ModelConfig.from_dict(config["model"]) == ModelConfig.from_dict(shipped["model"])
        assert config["data"]["kekule"] == shipped["data"].get("kekule", False)
        ours, theirs = (TrainConfig.from_dict({**c["train"], "epochs": 1}) for c in (config, shipped))
        assert ours == theirs
        line = next(text for text in said if text.startswith("Preset "))
        assert f"the recipe of the shipped pretrained:{pretrained.default_folder(grammar).name}" in line
        assert "an epoch on this CPU" in line and "in all" in line
    assert json.loads((tmp_path / "smiles" / rf.CONFIG).read_text())["model"]["decoder"] == "autoregressive"


def test_preset_choices_are_checked_before_any_work(zinc_slice, tmp_path, capsys):
    from grammar_rae.cli.main import main

    _train("smiles", zinc_slice, tmp_path / "run", model="grae", epochs=1)
    assert main(["train", "--resume", "--out", str(tmp_path / "run"), "--preset", "paper"]) == 1
    err = capsys.readouterr().err
    assert f"--resume continues {tmp_path / 'run'} with its own preset (cpu): drop --preset paper." in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--preset", "gpu"])
    assert exit_.value.code == 2 and "invalid choice: 'gpu'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    shown = capsys.readouterr().out
    assert "cpu-ar-wide (default for smiles)" in shown and "paper (default for expr)" in shown
