"""Packing a trained run as a shareable model: the weights, config, metrics, fitted GMM and a
model card (``README.md``) written from the run's own records, so every number on the card
was measured by the commands it names."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from grammar_rae import run_folder as rf
from grammar_rae.data.domains import domain_of
from grammar_rae.data.sources import dataset_with_sha256
from grammar_rae.errors import GrammarRAEError
from grammar_rae.files import save_json, write_atomic
from grammar_rae.generation.density import KERNEL_CENTRES
from grammar_rae.models.autoencoders import is_variational
from grammar_rae.optimization.report import finished_runs, mean_sem_text
from grammar_rae.reproduce.tables import paper_bo

MODEL_NAMES = {
    "grae": "GrammarRAE",
    "gcvae": "constant-variance Grammar VAE",
    "gvae": "Grammar VAE",
    "cvae": "character VAE",
}


def model_card(folder: Path, name: str) -> str:
    """The Markdown model card of the run in ``folder``, published as ``pretrained:NAME``."""
    config = rf.read_config(folder)
    summary = rf.training_summary(folder)
    saved = json.loads((folder / "evaluation.json").read_text()) if (folder / "evaluation.json").exists() else {}
    evaluation, constraints = saved.get("stages", {}), saved.get("settings", {}).get("constraints", "none")
    model, train = config["model"], config["train"]
    dataset = dataset_with_sha256(config["data"]["sha256"]) or Path(config["data"]["source"]).name
    flags = f" --epochs {train['epochs']}" if config["preset"] == "paper" and train["epochs"] != 50 else ""
    decoder = (
        f"autoregressive decoder (previous rule embedded in {model['embedding_dim']})"
        if model.get("decoder") == "autoregressive"
        else "the paper's decoder (z repeated at every step)"
    )
    lines = [
        f"# pretrained:{name} — {MODEL_NAMES.get(model['model'], model['model'])} on {dataset}",
        "",
        f'Load it with `--model pretrained:{name}` (CLI) or `TrainedModel.load("pretrained:{name}")` (Python).',
        "",
        "| | |",
        "| --- | --- |",
        (
            f"| data | {dataset} (sha256 `{config['data']['sha256'][:12]}…`){', Kekulé SMILES' if config['data'].get('kekule') else ''}, "
            f"split {config['splits']['train']:,} train / {config['splits']['val']:,} validation / "
            f"{config['splits']['test']:,} test (seed {train['seed']}) |"
        ),
        f"| grammar | `{config['grammar']}` (hash `{config['grammar_hash'][:12]}…`) |",
        (
            f"| preset | `{config['preset']}`: {_encoder(model)}, latent {model['latent_dim']}, "
            f"{model['gru_layers']} × GRU {model['gru_hidden']}, {decoder}, "
            f"batch {train['batch_size']}, {train['epochs']} epochs, Adam lr {train['lr']}"
            f"{', bf16 autocast' if train.get('precision') == 'bf16' else ''} |"
        ),
        f"| model settings | beta {model['beta']}, lambda {model['lam']}, regulariser `{model['reg']}`, noise {model['noise_std']} |",
        f"| seed | {train['seed']} |",
        f"| training | {summary['epochs']} epochs in {summary['minutes']:.1f} min (2-core CPU, PyTorch) |",
        f"| best validation loss | {summary['val_loss']:.4f} (epoch {summary['best_epoch']}{_accuracy(summary)}) |",
        *_evaluation_rows(evaluation, constraints),
        *_optimization_rows(folder, config["grammar"], model["model"]),
    ]
    if config["preset"] in PRESET_NOTES:
        lines += ["", PRESET_NOTES[config["preset"]]]
    lines += ["", _sampling_note(domain_of(config["grammar"]).faithful), "", ENCODING_NOTE]
    lines += [
        "",
        "How it was trained and measured:",
        "",
        f"    grammar-rae train --grammar {config['grammar']} --model {model['model']} --preset {config['preset']}{flags} --out RUN",
        "    grammar-rae evaluate --model RUN",
        "",
    ]
    return "\n".join(lines)


PRESET_NOTES = {
    "cpu": (
        "Trained under the `cpu` preset's budget of about one hour on a 2-core CPU (docs/cpu-preset.md), "
        "not with the paper's settings: its numbers are those of that budget."
    ),
    "cpu-ar": (
        "Trained under the `cpu-ar` preset (docs/cpu-preset.md), the project's own molecule recipe: a "
        "convolutional encoder with an autoregressive decoder, on a 2-core CPU. Decoding applies the SMILES "
        "ring-bond and valence constraints unless `--constraints none` is given."
    ),
    "cpu-ar-wide": (
        "Trained under the `cpu-ar-wide` preset (docs/latent-space.md), the shipped molecule recipe: `cpu-ar` with "
        "wider encoder convolutions and patience 3, on a 2-core CPU, chosen by measurement at equal CPU time for "
        "a latent space that gives molecules back. Decoding applies the SMILES ring-bond and valence constraints "
        "unless `--constraints none` is given."
    ),
}


def _encoder(model: dict) -> str:
    """The encoder in words: its convolutions (the paper's are 9, 9 and 10 filters) or its GRUs."""
    if model.get("encoder", "conv") == "gru":
        return f"bidirectional GRU encoder (2 × {model['encoder_gru_hidden']})"
    filters = ", ".join(str(f) for f in model["conv_filters"])
    widths = ", ".join(str(k) for k in model["conv_kernels"])
    return f"convolutions of {filters} filters (widths {widths})"


def _sampling_note(faithful: float) -> str:
    """What ``sample`` draws from by default, for a model of a language whose kernel keeps the
    codes that decode with at least this similarity to their own strings (0: every code)."""
    kept = (
        f"; the kept codes are the first {KERNEL_CENTRES:,} training codes, in random order, whose greedy decode "
        f"has a similarity of at least {faithful:g} to their own string (`--faithful {faithful:g}`; for molecules "
        "the Morgan Tanimoto similarity)"
        if faithful
        else ""
    )
    return (
        "`grammar-rae sample` draws from the kernel density on the training codes (`--density kernel`: a kept "
        f"training code plus noise of 0.1 times the codes' spread{kept}) for deterministic models "
        "and from N(0, I) for VAEs, and decodes each point greedily (`--decode argmax`, the most probable rule at "
        "each step), all chosen by measurement (docs/latent-space.md); the evaluation above keeps the protocol's "
        "GMM and sampled decoding (`--density gmm --decode sample`)."
    )


ENCODING_NOTE = (
    "`grammar-rae encode` and `interpolate` refine each code they make, with the decoder fixed, until greedy "
    "decoding gives its string back (at most `--refine 800` gradient steps; `--refine 0` keeps the encoder's "
    "codes), and `encode` says of each code whether it does (docs/latent-space.md); the reconstruction figures "
    "above are the encoder's codes', as the protocol measures them."
)
RECONSTRUCTIONS = (
    ("reconstruction", "stochastic decodes"),
    ("reconstruction/greedy", "argmax decode"),
    ("reconstruction/beam", "beam search"),
)
# (key, name, decimals) of the sample figures a card shows beside validity: the MOSES table's for
# molecules, the samples stage's for expressions
SAMPLE_FIGURES = (
    ("uniqueness", "unique", 3),
    ("unique@10k", "unique@10k", 3),
    ("novelty", "novelty", 3),
    ("intdiv", "IntDiv", 3),
    ("fcd", "FCD/test", 2),
    ("filters", "Filters", 3),
    ("sa", "SA W1", 2),
    ("logp", "logP W1", 2),
    ("qed", "QED W1", 3),
    ("expr_fit_mean", "mean expression fit", 3),
)
SAMPLE_LABELS = (
    ("gmm", "ex-post GMM (10 components, shipped)"),
    ("prior", "N(0, I)"),
    ("default", "`sample`'s default"),  # with what it drew from, as the stage records it
)


def _evaluation_rows(evaluation: dict, constraints: str) -> list[str]:
    """The card's rows for each evaluation stage the run has."""
    rows = []
    for stage, how in RECONSTRUCTIONS:
        if stage in evaluation:
            r = evaluation[stage]
            times = f" × {r['decodes']} {how}" if r["mode"] == "sample" else f", {how}"
            rows.append(
                f"| {stage.replace('/', ', ')} | {r['accuracy']:.3f} exact match ({r['n']:,} test strings × "
                f"{r['encodes']} encoding{'s' * (r['encodes'] > 1)}{times}) |"
            )
    with_constraints = " with constraints" if constraints != "none" else ""
    for kind, label in SAMPLE_LABELS:
        for stage, note in (
            (f"validity/{kind}", with_constraints),
            (f"validity/{kind}/unconstrained", " without constraints"),
        ):
            if stage in evaluation:
                v = evaluation[stage]
                rows.append(
                    f"| sample validity, {label}{note} | {v['validity']:.3f} ({v['points']:,} points × {v['decodes']} decodes) |"
                )
        if f"samples/{kind}" in evaluation:
            s = evaluation[f"samples/{kind}"]
            valid = (
                s["validity"] if "validity" in s else s["valid"]
            )  # MOSES's "valid" is a fraction, the expression stage's a count
            figures = ", ".join(
                [f"valid {valid:.3f}"]
                + [f"{name} {s[key]:.{digits}f}" for key, name, digits in SAMPLE_FIGURES if s.get(key) is not None]
            )
            drawn = f" ({s['drawn']})" if "drawn" in s else ""
            rows.append(f"| {s['n']:,} samples, {label}{drawn}{with_constraints} | {figures} |")
    return rows


def _optimization_rows(folder: Path, grammar_name: str, model: str) -> list[str]:
    """A row per finished BO of the run (``optimization/<objective>*/optimization.json``): the
    protocol's first, with its random baseline and the paper's figures for the same model, then
    each other setting (e.g. ``--acquisition floor-ei``), named by how it differs from the
    protocol, with its share of proposals below the density floor."""
    rows = []
    for settings, _, result in finished_runs(rf.RunFolder(folder).optimization(), grammar_name):
        bo, top = result["bo"], result["bo"]["top"]
        protocol = settings == "protocol"
        label = "" if protocol else f", {settings}"
        best = f", best {top[0]['score']:.2f}" if top else ""
        random = f"; random GMM baseline {result['random']['average_score']['mean']:.2f}" if "random" in result else ""
        paper = paper_bo(domain_of(grammar_name).name, result["objective"], model) if protocol else ""
        below = bo.get("below_density_floor") or {}
        floor = (
            f"; below the density floor {below['mean']:.2f}" if not protocol and below.get("mean") is not None else ""
        )
        rows.append(
            f"| BO of {result['objective']}{label} ({len(bo['seeds'])} seeds, {'higher' if result['maximize'] else 'lower'} is better) "
            f"| fraction valid {bo['fraction_valid']['mean']:.2f}, average {mean_sem_text(bo['average_score'], 2)}"
            f"{best}{random}{floor}{'; ' + paper if paper else ''} |"
        )
    return rows


def _accuracy(summary: dict) -> str:
    """The teacher-forced accuracy note, where training measured it."""
    if summary.get("val_accuracy") is None:
        return ""
    return f"; teacher-forced exact-sequence accuracy {summary['val_accuracy']:.3f}"


def check_model_name(name: str, root: str | Path) -> None:
    """Refuse a model name that is not a plain name (it becomes a folder of ``root``; ``../x`` would escape it)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) or ".." in name:
        raise GrammarRAEError(
            f"A model name is a plain name of letters, digits, '.', '_' and '-' (it becomes a folder in "
            f"{root}), not {name!r}."
        )


def export_model(folder: str | Path, name: str, root: str | Path) -> Path:
    """Copy the run in ``folder`` to ``root/NAME`` without its training checkpoint, with its
    densities (fitted beforehand: the GMM, and the kernel density ``sample`` draws from for
    deterministic models) and model card; the data source becomes the data set's name."""
    check_model_name(name, root)
    folder, target = Path(folder), Path(root) / name
    config = rf.read_config(folder)
    densities = {"gmm": 10} | ({} if is_variational(config["model"]["model"]) else {"kernel": KERNEL_CENTRES})
    faithful = domain_of(config["grammar"]).faithful  # the kernel `sample` draws from keeps the language's codes
    fitted = [rf.density_filename(kind, k, faithful) for kind, k in densities.items()]
    missing = [kind for kind, file in zip(densities, fitted) if not (folder / file).exists()]
    if missing:
        commands = " and ".join(f"`grammar-rae fit-density --model {folder} --density {kind}`" for kind in missing)
        raise GrammarRAEError(f"{folder} has no fitted {' or '.join(missing)} density yet: run {commands} first.")
    target.mkdir(parents=True, exist_ok=True)
    dataset = dataset_with_sha256(config["data"]["sha256"])
    if dataset:
        config["data"]["source"] = dataset
    save_json(target / rf.CONFIG, config)
    weights = rf.RunFolder(folder).weights_source()  # the run's own, or the shipped copy it names
    copy = target / rf.WEIGHTS
    if weights.exists() and not (copy.exists() and weights.samefile(copy)):  # a shipped run exported again keeps them
        shutil.copyfile(weights, copy)
    for file in (rf.BEST, rf.METRICS, *fitted, rf.EVALUATION):
        if (folder / file).exists():
            shutil.copyfile(folder / file, target / file)
    for targets in folder.glob(rf.TARGETS_GLOB):  # the objective on the training strings, so BO starts at once
        (target / targets.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
        for file in (targets, targets.with_suffix(".json")):  # with the sidecar naming the objective's version
            if file.exists():
                shutil.copyfile(file, target / file.relative_to(folder))
    card = model_card(folder, name)
    write_atomic(target / "README.md", lambda out: out.write(card.encode()))
    return target
