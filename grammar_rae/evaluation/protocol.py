"""``evaluate``: the evaluation protocol of a trained run (protocol section 7), written to
``evaluation.json`` in the run folder.

Stages: reconstruction accuracy on the test split (the protocol's stochastic decodes, and beside
them one greedy decode and one beam search per code); validity of points drawn from each density
(``prior_points`` points × ``prior_decodes`` decodes; uniqueness and novelty of the first decode
of each point), decoded with the model's constraint setting and, where that turns the grammar's
semantic constraints on, again without them; and, on ``samples`` points from each density, the
MOSES table for molecules (or validity, uniqueness, novelty and the mean expression-fit score for
expressions), and the same on the samples ``grammar-rae sample`` draws by default
(``samples/default``: the default density, greedy decoding). Each finished stage is saved at
once; running again with the same settings reuses finished stages, so an interrupted evaluation
continues where it stopped.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import torch

from grammar_rae.data.validity import canonical_many
from grammar_rae.errors import GrammarRAEError
from grammar_rae.evaluation.metrics import property_summary, set_metrics
from grammar_rae.evaluation.moses import FeatureSet, moses_metrics
from grammar_rae.evaluation.plots import sample_figures
from grammar_rae.evaluation.reconstruction import reconstruction_accuracy
from grammar_rae.files import save_json, save_lines
from grammar_rae.generation.sampling import (
    decode_points,
    default_density,
    run_density,
    sample,
    samples_file,
)
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.grammar.constraints import constraints_wanted
from grammar_rae.objectives.expressions import expr_fit

STAGES = ("reconstruction", "validity", "samples")

logger = logging.getLogger(__name__)


@dataclass
class EvaluationSettings:
    """How much of the protocol to run; the defaults are the reference protocol."""

    test_strings: int = 5000
    encodes: int | None = None  # 10 for stochastic encoders (VAEs, GCVAE), 1 for GRAE
    decodes: int = 100
    prior_points: int = 1000
    prior_decodes: int = 100
    samples: int = 30000
    beam: int = 5
    densities: tuple[str, ...] = ("gmm", "prior")
    components: int = 10
    seed: int = 0
    fcd: bool = True
    stages: tuple[str, ...] = field(default=STAGES)

    def check(self) -> None:
        """Raise a clear error for counts below 1."""
        for name in ("test_strings", "decodes", "prior_points", "prior_decodes", "samples", "components", "beam"):
            if getattr(self, name) < 1:
                raise GrammarRAEError(f"{name.replace('_', ' ')} must be at least 1, not {getattr(self, name)}.")
        if self.encodes is not None and self.encodes < 1:
            raise GrammarRAEError(f"encodes must be at least 1, not {self.encodes}.")


class Evaluation:
    """The stages of one run's evaluation, saved to its ``evaluation.json`` as they finish."""

    def __init__(self, model: TrainedModel, settings: EvaluationSettings, force: bool = False):
        self.model = model
        self.settings = settings
        self.path = model.run.evaluation
        self.results: dict = {"settings": self._settings_record(), "stages": {}}
        if self.path.exists():
            try:
                saved = json.loads(self.path.read_text())
            except json.JSONDecodeError:
                saved = {}
            # evaluations saved before beam search and constraints existed decoded without constraints
            record = {"beam": 5, "constraints": "none", **saved.get("settings", {})}
            if record == self.results["settings"]:
                self.results = {**saved, "settings": record}
        if force:  # recompute the chosen stages, keep the others
            self.results["stages"] = {
                k: v for k, v in self.results["stages"].items() if k.split("/")[0] not in settings.stages
            }

    def _settings_record(self) -> dict:
        record = asdict(self.settings)
        record["encodes"] = self.encodes
        record["densities"] = list(record["densities"])
        record.pop("stages")
        record["fcd"] = self.settings.fcd
        record["constraints"] = self.model.constraints
        return record

    @property
    def encodes(self) -> int:
        """Encodings per test string (protocol §7): 10 draws for stochastic encoders (the VAEs and
        GCVAE, whose codes carry fixed-σ noise), 1 for deterministic models, unless set."""
        if self.settings.encodes is not None:
            return self.settings.encodes
        return 10 if self.model.network.stochastic else 1

    def stage(self, name: str, compute: Callable[[], dict]) -> dict:
        """A finished stage's result, computing and saving it first if needed."""
        if name not in self.results["stages"]:
            logger.info("%s ...", name)
            started = time.perf_counter()
            value = compute()
            value["seconds"] = round(time.perf_counter() - started, 1)
            self.results["stages"][name] = value
            save_json(self.path, self.results)
        return self.results["stages"][name]


def evaluate(
    model: TrainedModel,
    settings: EvaluationSettings | None = None,
    workers: int | None = None,
    force: bool = False,
) -> dict:
    """Run the evaluation protocol on a run and return (and save) its results.

    Args:
        model: the trained model; results go to its run's ``evaluation.json``.
        settings: the protocol's sizes and stages (default: the papers' protocol).
        workers: processes for validity and metrics (default: all cores).
        force: run every stage again, even those already saved.

    Each stage is logged (``logging``, INFO) as it starts.
    """
    settings = settings or EvaluationSettings()
    settings.check()
    evaluation = Evaluation(model, settings, force)
    data = model.data
    if "reconstruction" in settings.stages:
        test = data.strings("test")[: settings.test_strings]
        evaluation.stage(
            "reconstruction",
            lambda: reconstruction_accuracy(
                model, test, evaluation.encodes, settings.decodes, "sample", settings.seed
            ).to_dict(),
        )
        evaluation.stage(
            "reconstruction/greedy",
            lambda: reconstruction_accuracy(model, test, 1, 1, "argmax").to_dict(),
        )
        if model.config.is_grammar_model:
            evaluation.stage(
                "reconstruction/beam",
                lambda: reconstruction_accuracy(model, test, 1, 1, "beam", beam=settings.beam).to_dict(),
            )
    # what the stages share is computed when the first stage that needs it runs (not on a resume)
    training = cache(lambda: training_forms(model, workers))
    reference = cache(lambda: reference_features(model, workers) if model.domain.reference_metrics == "moses" else None)
    for kind in settings.densities:
        density = cache(
            lambda kind=kind: run_density(model, kind, settings.components if kind == "gmm" else None, settings.seed)[0]
        )
        if "validity" in settings.stages:
            evaluation.stage(
                f"validity/{kind}",
                lambda density=density: _validity(model, density(), settings, training(), workers),
            )
            if model.config.is_grammar_model and constraints_wanted(model.constraints, model.grammar):
                evaluation.stage(
                    f"validity/{kind}/unconstrained",
                    lambda density=density: _validity(model, density(), settings, training(), workers, "none"),
                )
        if "samples" in settings.stages:
            evaluation.stage(
                f"samples/{kind}",
                lambda density=density: _samples(model, density(), settings, training(), reference(), workers),
            )
    if "samples" in settings.stages:  # beside the protocol's: what `grammar-rae sample` gives by default
        evaluation.stage("samples/default", lambda: _default_samples(model, settings, training(), reference(), workers))
    return evaluation.results


def samples_path(model: TrainedModel, kind: str) -> Path:
    """Where the evaluation keeps the strings it sampled from a density."""
    return samples_file(model, f"evaluation-{kind}")


def evaluation_figures(model: TrainedModel, densities: Sequence[str], workers: int | None = None) -> list[Path]:
    """The figures of the samples :func:`evaluate` drew from each density
    (``evaluation-<density>-*.png`` in the run folder; see :func:`sample_figures`). A density whose
    samples file is gone (they are not kept in version control) is left out."""
    paths = []
    for kind in densities:
        path = samples_path(model, kind)
        if not path.exists():
            continue
        strings = [line or None for line in path.read_text().split("\n")[:-1]]
        paths += sample_figures(model, strings, model.run.evaluation_figures(kind), workers)
    return paths


def training_forms(model: TrainedModel, workers: int | None = None) -> set[str]:
    """Canonical forms of the run's training strings (for novelty)."""
    known = model.data.dataset.canonical(workers)
    return {known[i] for i in model.data.rows("train") if known[i] is not None}


def reference_features(model: TrainedModel, workers: int | None = None) -> FeatureSet:
    """MOSES features of the run's test molecules (the reference set)."""
    test = canonical_many(model.grammar.name, model.data.strings("test"), workers)
    return FeatureSet([c for c in test if c is not None], workers, filters=False)


def _validity(
    model, density, settings: EvaluationSettings, training: set[str], workers, constraints: str | None = None
) -> dict:
    z = density.sample(settings.prior_points, seed=settings.seed)
    generator = torch.Generator(device=model.device).manual_seed(settings.seed)
    decoded = model.decode_attempts(z, settings.prior_decodes, "sample", generator, constraints=constraints)
    flat = [s for row in decoded for s in row]
    canonical = canonical_many(model.grammar.name, flat, workers)
    first = canonical[:: settings.prior_decodes]
    return {
        "points": settings.prior_points,
        "decodes": settings.prior_decodes,
        "validity": float(np.mean([c is not None for c in canonical])),
        "first_decode": set_metrics(first, training).to_dict(),
    }


def _samples(model, density, settings: EvaluationSettings, training, reference, workers) -> dict:
    z = density.sample(settings.samples, seed=settings.seed + 1)
    strings = decode_points(model, z, "sample", 1, settings.seed)
    save_lines(samples_path(model, density.kind), (s or "" for s in strings))
    return _sample_table(model, strings, settings, training, reference, workers)


def _default_samples(model, settings: EvaluationSettings, training, reference, workers) -> dict:
    """``settings.samples`` strings as ``grammar-rae sample --n N --seed S`` draws them by default
    (the default density, greedy decoding), with what they were drawn from."""
    density, _ = run_density(model, default_density(model))
    strings = sample(model, settings.samples, density, "argmax", seed=settings.seed).strings
    save_lines(samples_path(model, "default"), (s or "" for s in strings))
    faithful = f", faithful {density.faithful:g}" if density.faithful else ""
    drawn = f"{density.kind} density{faithful}, argmax decoding"
    return _sample_table(model, strings, settings, training, reference, workers) | {"drawn": drawn}


def _sample_table(model, strings: list[str | None], settings: EvaluationSettings, training, reference, workers) -> dict:
    """The MOSES table of a sample of molecules (or the set metrics and mean fit of expressions)."""
    canonical = canonical_many(model.grammar.name, strings, workers)
    if model.domain.reference_metrics == "moses":
        table = moses_metrics(canonical, reference, training, workers, settings.fcd)
        table["properties"] = property_summary([c for c in canonical if c is not None], workers)
        return table
    table = set_metrics(canonical, training).to_dict()
    if model.domain.properties == "expressions":
        scores = expr_fit([c for c in canonical if c is not None])
        table["expr_fit_mean"] = float(scores.mean()) if len(scores) else None
    return table


REPORTS = ("validity", "uniqueness", "novelty", "properties", "moses")


def check_reports(reports: tuple[str, ...]) -> tuple[str, ...]:
    """``reports`` if every name is known, else a clear error."""
    unknown = set(reports) - set(REPORTS)
    if unknown:
        raise GrammarRAEError(f"Unknown report {', '.join(sorted(unknown))}: choose from {', '.join(REPORTS)}.")
    return reports


def sample_report(
    model: TrainedModel,
    strings: list[str | None],
    reports: tuple[str, ...] = REPORTS[:3],
    workers: int | None = None,
    fcd: bool = True,
) -> dict:
    """The numbers ``grammar-rae sample --report`` prints: always ``n``, ``valid`` (how many),
    ``validity`` and ``uniqueness`` (fractions) and ``valid_rows`` (each string's validity), plus
    ``novelty`` (which needs the training data), ``properties`` (molecules: logP, QED, SA mean and
    sd; expressions: expression-fit) and ``moses`` when asked for. Where the training data is not on
    this machine, ``novelty`` is None and ``moses`` left out, and ``missing`` says why and how to get
    it, instead of a download.

    Args:
        model: the model that drew the strings.
        strings: the sample (None where decoding failed).
        reports: which of ``REPORTS`` to compute.
        workers: processes for validity and metrics (default: all cores).
        fcd: with ``moses``, compute the Fréchet ChemNet Distance too.
    """
    check_reports(reports)
    grammar = model.grammar.name
    canonical = canonical_many(grammar, strings, workers)
    needed = [name for name in ("novelty", "moses") if name in reports]
    missing = {}
    if needed and not model.data_at_hand:  # offline without the data set: report the rest, and how to get it
        missing = dict.fromkeys(
            needed,
            f"needs the training set, which is not on this machine: "
            f"`grammar-rae data prepare --grammar {grammar}` downloads and prepares it once",
        )
        reports = tuple(r for r in reports if r not in missing)
    training = training_forms(model, workers) if {"novelty", "moses"} & set(reports) else None
    out = set_metrics(canonical, training).to_dict()
    if missing:
        out["missing"] = missing
    out["valid_rows"] = [c is not None for c in canonical]
    out["valid"] = sum(out["valid_rows"])
    valid = [c for c in canonical if c is not None]
    if "properties" in reports:
        if model.domain.properties == "molecules":
            out["properties"] = property_summary(valid, workers)
        elif model.domain.properties == "expressions":
            scores = expr_fit(valid)
            out["properties"] = {
                "expr_fit": {"mean": float(scores.mean()), "sd": float(scores.std())} if len(scores) else None
            }
    if "moses" in reports and model.domain.reference_metrics == "moses":
        out["moses"] = moses_metrics(canonical, reference_features(model, workers), training, workers, fcd)
    return out
