"""What makes the latent space hold molecules: candidate designs trained for equal CPU time.

Each candidate GrammarRAE trains on the Kekulé forms of ZINC250k (the paper's split, length-bucketed
batches of 256) on one thread. At each of ``--checkpoints`` CPU-minutes it is measured on data it
never trained on:

- validation loss (first 2,000 validation molecules) and how much the code tells the decoder: the
  teacher-forced NLL (nats per molecule) of 1,000 validation molecules with their own codes and
  with the codes shuffled among them;
- greedy round trip (encode → argmax decode, exact string) of 1,000 validation molecules;
- the round trip with refined codes (``TrainedModel.encode_refined``, the default of ``encode``) of
  the first 100 of them;
- 2,000 points of a 10-component GMM fitted on 20,000 training codes, decoded greedily and sampled
  (T = 1), and 2,000 points of the kernel density ``sample`` draws from by default (bandwidth
  ``KERNEL_BANDWIDTH``, here on those 20,000 codes) decoded greedily, scored against the ZINC test
  split with the MOSES metrics: valid, FCD, Filters (MCF and PAINS), SA and logP Wasserstein-1.

CPU time is the process's (``time.process_time``), so two candidates run side by side on the two
cores are compared at equal work. Each checkpoint appends a JSON line to ``--out`` (resumable per
candidate: a finished candidate's lines are kept, an unfinished one starts again). The last line
printed compares the candidate's greedy round trip at the last checkpoint with the baseline
preset's, where both are in the file.

Long comparisons run as ordinary resumable ``grammar-rae train`` runs (which log each epoch's CPU
seconds); ``--watch RUN`` measures the run's checkpoint every ``--every`` epochs as it trains (and
any pretrained or finished run folder once, at its best weights, with ``--run``), so the candidate's
learning curve continues across sessions:

    python benchmarks/latent_candidates.py --candidate cpu-ar --out docs/latent-candidates.jsonl
    python benchmarks/latent_candidates.py --candidate gru-wd-128 --out docs/latent-candidates.jsonl
    python benchmarks/latent_candidates.py --watch results/latent-long/cpu-ar --every 3 --out docs/latent-candidates.jsonl
    python benchmarks/latent_candidates.py --table --out docs/latent-candidates.jsonl
    python benchmarks/latent_candidates.py --plot docs/latent-long.png --out docs/latent-candidates.jsonl

``--plot`` draws the long runs' learning curves (rows ``latent-long/*``, with the shipped model as
a point) against CPU-minutes: the code information, the teacher-forced NLL, and FCD and Filters of
the greedy and sampled decodes.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import torch
from _common import data_argument

from grammar_rae import Grammar
from grammar_rae import run_folder as rf
from grammar_rae.data import prepare_dataset
from grammar_rae.data.sequences import grammar_sequences, one_hot_rows
from grammar_rae.data.validity import canonical_many
from grammar_rae.evaluation.moses import FeatureSet, moses_metrics
from grammar_rae.evaluation.reconstruction import reconstruction_accuracy
from grammar_rae.files import write_atomic
from grammar_rae.generation.density import LatentDensity
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.models import ModelConfig, build_model
from grammar_rae.models.config import preset_settings
from grammar_rae.models.losses import reconstruction_terms
from grammar_rae.run_folder import TrainConfig, split_rows
from grammar_rae.training.trainer import Trainer

BASELINE = "cpu-ar"
REFINED = 100  # validation molecules whose refined codes are decoded (about 2 CPU-s each)
CANDIDATES = {  # name → ModelConfig overrides of the cpu-ar preset
    BASELINE: {},
    "latent-128": {"latent_dim": 128},
    "wd-0.3": {"word_dropout": 0.3},
    "gru-enc": {"encoder": "gru"},
    "gru-wd-128": {"encoder": "gru", "word_dropout": 0.3, "latent_dim": 128},
    "conv-wd-128": {"word_dropout": 0.3, "latent_dim": 128},
    "conv-64": {"conv_filters": [64, 64, 64]},
    "conv-64-10": {"conv_filters": [64, 64, 10]},  # conv-64's first two widths, the paper's dense input
}


def teacher_forced_nll(model, targets: torch.Tensor, z: torch.Tensor) -> float:
    """Mean masked NLL per molecule (nats) of ``targets`` given codes ``z``: the training loss's
    reconstruction term without its division by the number of rules."""
    logits = model.decoder.teacher_forced(z, targets)
    return float(reconstruction_terms(logits, targets, model.rule_masks)[0].mean() * logits.shape[-1])


@torch.no_grad()
def code_information(trainer: Trainer, rows: np.ndarray) -> tuple[float, float]:
    """Teacher-forced NLL with the molecules' own codes and with the codes shuffled among them."""
    model = trainer.model.eval()
    own, shuffled = [], []
    order = np.argsort(trainer.sequences.lengths[rows])
    for batch in np.array_split(rows[order], max(1, len(rows) // 250)):
        x, targets, steps = trainer._tensors(batch)
        targets = targets[:, :steps]
        z = model.encode(x)
        permutation = torch.randperm(len(z), generator=torch.Generator().manual_seed(0))
        own.append(teacher_forced_nll(model, targets, z) * len(z))
        shuffled.append(teacher_forced_nll(model, targets, z[permutation]) * len(z))
    return sum(own) / len(rows), sum(shuffled) / len(rows)


@torch.no_grad()
def step_errors(model: TrainedModel, n: int = 1000) -> str:
    """Where the teacher-forced masked argmax differs from the true rule on the first ``n`` validation
    molecules: errors per molecule, and the error rate per left-hand side (real choices only)."""
    net, data, masks = model.network, model.data, model.network.rule_masks
    rows, errors, made, wrong = data.rows("val")[:n], [], {}, {}
    for start in range(0, len(rows), 250):
        x, targets = one_hot_rows(
            data.sequences.indices, rows[start : start + 250], model.config.vocab_size, model.device
        )
        logits = net.decoder.teacher_forced(net.encode(x), targets).float().masked_fill(~masks[targets], -torch.inf)
        miss = (logits.argmax(-1) != targets).numpy()
        errors += miss.sum(1).tolist()
        choice = (masks[targets].sum(-1) > 1).numpy()  # steps whose left-hand side has more than one rule
        for rule, missed in zip(targets.numpy()[choice], miss[choice]):
            lhs = str(model.grammar.productions[rule].lhs())
            made[lhs], wrong[lhs] = made.get(lhs, 0) + 1, wrong.get(lhs, 0) + int(missed)
    errors = np.array(errors)
    lines = [
        f"{len(rows):,} validation molecules: {errors.mean():.2f} wrong choices per molecule of {sum(made.values()) / len(rows):.1f};"
        f" none {np.mean(errors == 0):.3f}, one {np.mean(errors == 1):.3f}, two {np.mean(errors == 2):.3f},"
        f" three or more {np.mean(errors >= 3):.3f}",
        "| left-hand side | choices per molecule | wrong per molecule | error rate |",
        "| --- | --- | --- | --- |",
    ]
    for lhs in sorted(wrong, key=wrong.get, reverse=True)[:8]:
        lines.append(
            f"| {lhs} | {made[lhs] / len(rows):.1f} | {wrong[lhs] / len(rows):.2f} | {wrong[lhs] / made[lhs]:.3f} |"
        )
    marked, apart, others = stereo_distances(model, data.strings("val")[:n])
    lines.append(
        f"{marked} of the {len(rows)} carry tetrahedral stereo marks; code distance to the same molecule with "
        f"the marks inverted {apart:.4f} (median), to another molecule {others:.2f}"
    )
    return "\n".join(lines)


def stereo_distances(model: TrainedModel, strings: list[str]) -> tuple[int, float, float]:
    """How far apart the encoder puts a molecule with tetrahedral stereo marks and the same string
    with every mark inverted (@ and @@ swapped), against two different molecules: the number of
    marked molecules and the two median distances."""
    marked = [s for s in strings if "@" in s]
    inverted = [re.sub("@@?", lambda mark: "@" if mark.group() == "@@" else "@@", s) for s in marked]
    codes, inverse = model.encode(marked)[0], model.encode(inverted)[0]
    apart = float(np.nanmedian(np.linalg.norm(codes - inverse, axis=1)))
    return len(marked), apart, float(np.nanmedian(np.linalg.norm(codes - np.roll(codes, 1, axis=0), axis=1)))


def measure(trainer: Trainer, model: TrainedModel, strings: list[str], reference: FeatureSet) -> dict:
    """The checkpoint's figures (see the module docstring). ``model`` wraps ``trainer.model`` with the
    run's input form (Kekulé here), so the round trip reads each molecule as the model trained on it."""
    splits = trainer.splits
    out = {"val_loss": trainer.evaluate(splits.val[:2000]).loss}
    out["nll_own"], out["nll_shuffled"] = code_information(trainer, splits.val[:1000])
    validation = [strings[i] for i in splits.val[:1000]]
    out["round_trip"] = reconstruction_accuracy(model, validation).accuracy
    out["refined_round_trip"] = float(model.encode_refined(validation[:REFINED])[1].mean())
    _, out["stereo_apart"], out["codes_apart"] = stereo_distances(model, validation)
    codes = model.encode_indices(trainer.sequences.indices, splits.train[:20000], False, None, 1000)
    gmm = LatentDensity("gmm", 10, seed=0).fit(codes).sample(2000, seed=1)
    kernel = LatentDensity("kernel", len(codes), seed=0).fit(codes).sample(2000, seed=1)
    for name, points, mode in (("argmax", gmm, "argmax"), ("sample", gmm, "sample"), ("kernel", kernel, "argmax")):
        decoded = model.decode(points, mode, torch.Generator().manual_seed(1))
        metrics = moses_metrics(canonical_many("smiles", decoded), reference, None)
        out[name] = {k: metrics[k] for k in ("valid", "fcd", "filters", "sa", "logp")}
    trainer.model.train()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--candidate", choices=sorted(CANDIDATES), required=False)
    parser.add_argument(
        "--table", action="store_true", help="print the measured checkpoints in --out as a Markdown table"
    )
    parser.add_argument("--checkpoints", default="9,18,36", help="CPU-minutes at which to measure")
    parser.add_argument(
        "--watch", type=Path, help="a training run folder to measure every --every epochs until it ends"
    )
    parser.add_argument("--run", help="a finished run folder or pretrained:NAME to measure once, at its best weights")
    parser.add_argument("--errors", help="a run folder or pretrained:NAME: where its greedy choices go wrong")
    parser.add_argument("--plot", type=Path, help="PNG of the long runs' learning curves, from the --out records")
    parser.add_argument("--every", type=int, default=3, help="epochs between measurements of --watch")
    parser.add_argument("--out", type=Path, required=False, help="JSON-lines file the checkpoints are appended to")
    args = parser.parse_args()
    if args.table or args.plot:
        records = [json.loads(line) for line in args.out.read_text().splitlines()]
        print(f"figure: {learning_curves(records, args.plot)}" if args.plot else table(records))
        return
    if args.errors:
        torch.set_num_threads(1)
        print(step_errors(TrainedModel.load(args.errors, device="cpu")))
        return
    if args.out is None:
        parser.error("give --out FILE, the JSON-lines records")
    if args.watch or args.run:
        torch.set_num_threads(1)
        watch(args.watch, args.every, args.out) if args.watch else measure_run(args.run, args.out)
        return
    if args.candidate is None:
        parser.error("give --candidate NAME (or --table)")
    torch.set_num_threads(1)
    checkpoints = [float(m) for m in args.checkpoints.split(",")]
    done = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    if any(r["candidate"] == args.candidate and r["cpu_minutes"] == checkpoints[-1] for r in done):
        print(f"{args.candidate} is already measured in {args.out}.")
    else:
        run(args, checkpoints)
        done = [json.loads(line) for line in args.out.read_text().splitlines()]
    last = {r["candidate"]: r for r in done if r["cpu_minutes"] == checkpoints[-1]}
    if BASELINE in last:
        mine, base = last[args.candidate], last[BASELINE]
        trip = lambda r: f"{r['round_trip']:.3f}" if "round_trip" in r else "–"  # noqa: E731 (not in older records)
        print(
            f"{args.candidate} at {checkpoints[-1]:g} CPU-min: greedy round trip {trip(mine)} against "
            f"{BASELINE}'s {trip(base)}; code information (NLL shuffled − own) "
            f"{(mine['nll_shuffled'] - mine['nll_own']) / max(base['nll_shuffled'] - base['nll_own'], 1e-9):.2f}x the baseline's"
        )


def run(args: argparse.Namespace, checkpoints: list[float]) -> None:
    """Train one candidate to the last checkpoint, measuring and appending at each."""
    grammar = Grammar.load("smiles")
    kekule = True  # the data's form; the measured model reads user strings in the same form
    dataset = prepare_dataset(grammar, args.data_dir / "zinc250k.smi", kekule=kekule)
    sequences = grammar_sequences(dataset)
    strings = dataset.strings
    settings = preset_settings("cpu-ar", "smiles")
    torch.manual_seed(0)
    config = ModelConfig.from_preset(
        "grae", "smiles", grammar.n_rules, grammar.max_length, "cpu-ar", **CANDIDATES[args.candidate]
    )
    train_config = TrainConfig(epochs=1, batch_size=settings["batch_size"], patience=1, precision=settings["precision"])
    splits = split_rows(sequences, train_config)
    trainer = Trainer(
        None, build_model(config, grammar.rule_masks), train_config, sequences, splits, torch.device("cpu")
    )
    test = canonical_many("smiles", [strings[i] for i in splits.test])
    reference = FeatureSet([s for s in test if s is not None])
    trainer.model.train()
    cpu, seen, epoch = 0.0, 0, 0
    for target in checkpoints:
        while cpu < target * 60:
            batches = trainer._my_batches(epoch)
            for rows in batches[trainer.batch :]:
                tick = time.process_time()
                trainer._step(rows)
                cpu += time.process_time() - tick
                seen += len(rows)
                trainer.batch += 1
                if cpu >= target * 60:
                    break
            else:
                epoch, trainer.batch = epoch + 1, 0
        record = {
            "candidate": args.candidate,
            "settings": CANDIDATES[args.candidate],
            "cpu_minutes": target,
            "molecules_seen": seen,
            "molecules_per_cpu_second": seen / cpu,
            **measure(trainer, TrainedModel(trainer.model, grammar, trainer.device, kekule=kekule), strings, reference),
        }
        with args.out.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)


def _recorded(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def _append(out: Path, record: dict) -> None:
    """Add ``record`` to the file, in place of an earlier measurement of the same candidate and epoch
    (a finished run measured again with more figures keeps one point per epoch)."""
    same = lambda r: (r["candidate"], r.get("epoch")) == (record["candidate"], record.get("epoch"))  # noqa: E731
    lines = [json.dumps(r) for r in _recorded(out) if "epoch" not in record or not same(r)] + [json.dumps(record)]
    write_atomic(out, lambda handle: handle.write(("\n".join(lines) + "\n").encode()))
    print(json.dumps(record), flush=True)


def _run_record(model: TrainedModel, name: str, epoch: int) -> dict:
    """Measure a run's network (already loaded into ``model``) after ``epoch`` epochs."""
    data = model.data
    saved = rf.read_config(model.folder)
    trainer = Trainer(
        None, model.network, TrainConfig.from_dict(saved["train"]), data.sequences, data.splits, model.device
    )
    test = canonical_many("smiles", [data.dataset.strings[i] for i in data.splits.test])
    reference = FeatureSet([s for s in test if s is not None])
    epochs = rf.read_metrics(model.folder)[:epoch]
    cpu = sum(e.get("cpu_seconds", e["seconds"]) for e in epochs)  # runs from before the CPU log: wall time
    seen = epoch * len(data.splits.train)
    return {
        "candidate": name,
        "settings": {k: v for k, v in saved["model"].items() if k in ("latent_dim", "word_dropout", "encoder")},
        "patience": saved["train"]["patience"],
        "epoch": epoch,
        "cpu_minutes": round(cpu / 60, 1),
        "molecules_seen": seen,
        "molecules_per_cpu_second": seen / cpu,
        "val_accuracy": epochs[-1]["val_accuracy"],
        **measure(trainer, model, data.dataset.strings, reference),
    }


def measure_run(spec: str, out: Path) -> None:
    """Measure a finished run (or a pretrained model) once, at its best-validation weights."""
    model = TrainedModel.load(spec, device="cpu")
    epoch = json.loads((model.folder / rf.BEST).read_text())["epoch"]
    name = spec if spec.startswith("pretrained:") else _run_name(model.folder)  # a run's points join its curve
    _append(out, _run_record(model, name, epoch))


def _run_name(folder: Path) -> str:
    """A run's name in the records: its folder and parent, e.g. ``latent-long/cpu-ar``."""
    return f"{folder.parent.name}/{folder.name}"


def watch(folder: Path, every: int, out: Path) -> None:
    """Measure the checkpoint of a training run at every ``every``-th epoch, until it trains no more."""
    name = _run_name(folder)
    done = {r["epoch"] for r in _recorded(out) if r["candidate"] == name}
    total = rf.read_config(folder)["train"]["epochs"]
    idle = 0.0
    while True:
        state = rf.load_tensors(folder / rf.CHECKPOINT) if (folder / rf.CHECKPOINT).exists() else None
        epoch = 0 if state is None else state["epoch"]
        if state is not None and state["batch"] == 0 and epoch % every == 0 and epoch not in done:
            model = TrainedModel.load(folder, device="cpu")
            model.network.load_state_dict(state["model"])
            _append(out, _run_record(model, name, epoch))
            done.add(epoch)
            idle = 0.0
        if epoch >= total or idle > 3 * 3600:  # finished, or nothing new for three hours (the run was stopped)
            return
        time.sleep(60)
        idle += 60


def table(records: list[dict]) -> str:
    """The checkpoints as a Markdown table, by candidate and CPU-minutes."""
    lines = [
        "| candidate | epoch | CPU-min | molecules seen | val. loss | NLL own / shuffled code (gap) | "
        "teacher-forced exact | greedy round trip: encoder / refined codes | GMM, argmax: valid, FCD, Filters, SA W1 | "
        "GMM, sampled: valid, FCD, Filters, SA W1 | kernel, argmax: valid, FCD, Filters, SA W1 |",
        "| --- " * 11 + "|",
    ]
    number = lambda value, digits: "–" if value is None else f"{value:.{digits}f}"  # noqa: E731
    for r in sorted(records, key=lambda r: (r["candidate"] != BASELINE, r["candidate"], r["cpu_minutes"])):
        decoded = [
            ", ".join(
                [
                    number(_get(r, (m, key)), digits)
                    for key, digits in (("valid", 3), ("fcd", 1), ("filters", 2), ("sa", 2))
                ]
            )
            for m in ("argmax", "sample", "kernel")
        ]
        lines.append(
            f"| {r['candidate']} | {r.get('epoch', '–')} | {r['cpu_minutes']:g} | {r['molecules_seen']:,} | {r['val_loss']:.3f} | "
            f"{r['nll_own']:.1f} / {r['nll_shuffled']:.1f} ({r['nll_shuffled'] - r['nll_own']:.1f}) | "
            f"{number(r.get('val_accuracy'), 4)} | {number(r.get('round_trip'), 3)} / {number(r.get('refined_round_trip'), 2)} | "
            f"{decoded[0]} | {decoded[1]} | {decoded[2]} |"
        )
    return "\n".join(lines)


def learning_curves(records: list[dict], path: Path) -> Path:
    """The ``latent-long/*`` records against CPU-minutes, five panels, the shipped model as a point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    value = lambda *keys: lambda r: _get(r, keys)  # noqa: E731
    panels = (  # title, then (curve label, value, line style, marker of the shipped model)
        (
            "code information: NLL shuffled − own code (nats)",
            [("", lambda r: r["nll_shuffled"] - r["nll_own"], "o-", "*")],
        ),
        ("teacher-forced NLL, own code (nats per molecule)", [("", value("nll_own"), "o-", "*")]),
        (
            "exact reconstruction of validation molecules",
            [
                ("teacher-forced", value("val_accuracy"), "o-", "*"),
                ("greedy round trip", value("round_trip"), "s--", "x"),
                ("greedy round trip, refined codes", value("refined_round_trip"), "^:", "P"),
            ],
        ),
        (
            "FCD against the ZINC test split (2,000 molecules)",
            [
                ("GMM, greedy", value("argmax", "fcd"), "o-", "*"),
                ("GMM, sampled", value("sample", "fcd"), "s--", "x"),
                ("kernel, greedy", value("kernel", "fcd"), "^:", "P"),
            ],
        ),
        (
            "MCF + PAINS pass rate",
            [
                ("GMM, greedy", value("argmax", "filters"), "o-", "*"),
                ("GMM, sampled", value("sample", "filters"), "s--", "x"),
                ("kernel, greedy", value("kernel", "filters"), "^:", "P"),
            ],
        ),
    )
    long = sorted({r["candidate"] for r in records if r["candidate"].startswith("latent-long/")})
    shipped = [r for r in records if r["candidate"].startswith("pretrained:")]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    figure, grid = plt.subplots(2, 3, figsize=(15, 7.5))
    for axes, (title, curves) in zip(grid.flat, panels):
        for label, get, style, marker in curves:
            suffix = f", {label}" if label else ""
            for colour, name in zip(colours, long):
                rows = sorted(
                    (r for r in records if r["candidate"] == name and get(r) is not None),
                    key=lambda r: r["cpu_minutes"],
                )
                if rows:
                    axes.plot(
                        [r["cpu_minutes"] for r in rows],
                        [get(r) for r in rows],
                        style,
                        color=colour,
                        label=name.split("/")[1] + suffix,
                    )
            for r in (r for r in shipped if get(r) is not None):
                axes.plot(r["cpu_minutes"], get(r), "k" + marker, markersize=10, label=r["candidate"] + suffix)
        axes.set_title(title, fontsize=10)
        axes.set_xlabel("CPU-minutes of training")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    grid.flat[-1].axis("off")
    figure.suptitle("Long GrammarRAE runs on Kekulé ZINC250k, measured on validation molecules (docs/latent-space.md)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _get(record: dict, keys: tuple[str, ...]) -> float | None:
    """A nested value of a record, None where an older record lacks it."""
    for key in keys:
        record = record.get(key) if isinstance(record, dict) else None
    return record


if __name__ == "__main__":
    main()
