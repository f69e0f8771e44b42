"""A paper reproduction as resumable stages: for each model, train → evaluate → optimise, then
the results table.

Every stage keeps its own resumable state in the model's run folder under the experiment's
output folder (training checkpoints, ``evaluation.json``, one ``seed-S.json`` per BO seed), and
the table (``results.json``, ``results.md``) is rewritten after every model, so a run cut off at
any point picks up where it stopped when the same command is given again. Figures: each model's
samples and BO curves in its folder, and ``best-so-far.png`` comparing the models.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grammar_rae import run_folder as rf
from grammar_rae.evaluation.plots import comparison_curves
from grammar_rae.evaluation.protocol import EvaluationSettings, evaluate, evaluation_figures
from grammar_rae.files import locked, save_json, write_atomic
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.objectives.registry import Objective, get_objective
from grammar_rae.optimization.bo import optimize
from grammar_rae.optimization.records import optimization_folder
from grammar_rae.optimization.report import optimization_figures, proposal_scores
from grammar_rae.optimization.settings import BOSettings
from grammar_rae.reproduce.tables import results_markdown
from grammar_rae.training.api import train

MODELS = ("grae", "gcvae", "gvae", "cvae")

logger = logging.getLogger(__name__)


@dataclass
class Experiment:
    """What to reproduce and at which scale; the defaults of each field are the paper's protocol."""

    name: str
    grammar: str
    objective: str
    out: Path
    data: str | None = None
    models: Sequence[str] = MODELS
    preset: str = "paper"
    training: dict = field(default_factory=dict)  # settings over the preset's (epochs, max_molecules, test_size, ...)
    seeds: Sequence[int] = tuple(range(1, 11))
    bo: BOSettings = field(default_factory=lambda: BOSettings(start="training"))  # the protocol's start
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)
    extra_objectives: Sequence[str] = ()
    device: str = "auto"

    def record(self) -> dict:
        """The settings, as written into ``results.json``."""
        return {
            "name": self.name,
            "grammar": self.grammar,
            "objective": self.objective,
            "data": self.data,
            "models": list(self.models),
            "preset": self.preset,
            "training": self.training,
            "seeds": list(self.seeds),
            "bo": self.bo.record(self.grammar),
            "evaluation": asdict(self.evaluation),
            "extra_objective": self.extra_objectives[0] if self.extra_objectives else None,
        }


def train_stage(experiment: Experiment, model: str) -> Path:
    """Train (or continue training) one model into ``<out>/<model>``."""
    folder = experiment.out / model
    if (folder / rf.CONFIG).exists():
        train(
            out=folder,
            resume=True,
            epochs=experiment.training.get("epochs"),
            device=experiment.device,
        )
    else:
        train(
            experiment.grammar,
            model,
            experiment.data,
            folder,
            experiment.preset,
            device=experiment.device,
            **experiment.training,
        )
    return folder


def run_experiment(experiment: Experiment) -> dict:
    """Run (or resume) every stage for every model, logging each (``logging``, INFO); returns the results table."""
    objective = get_objective(experiment.objective)
    objective.check_grammar(experiment.grammar)
    extra = [get_objective(name) for name in experiment.extra_objectives]
    results = collect_results(experiment)
    for name in experiment.models:
        started = time.perf_counter()
        logger.info(f"[{name}] training")
        folder = train_stage(experiment, name)
        model = TrainedModel.load(
            folder, experiment.device, constraints="none"
        )  # the papers decoded with the grammar mask alone
        logger.info(f"[{name}] evaluation")
        evaluate(model, experiment.evaluation)
        logger.info(f"[{name}] Bayesian optimisation of {objective.name}, seeds {list(experiment.seeds)}")
        optimisation = optimize(model, objective, experiment.seeds, experiment.bo, extra=extra)
        figures = evaluation_figures(model, experiment.evaluation.densities) + optimization_figures(
            model, objective, optimisation, experiment.bo
        )
        logger.info(f"[{name}] figures: {', '.join(str(f) for f in figures)}")
        logger.info(f"[{name}] done in {time.perf_counter() - started:.0f} s")
        results = write_tables(experiment)
    return results


def write_tables(experiment: Experiment) -> dict:
    """Collect every finished model's row from its folder, write ``results.json``, ``results.md``
    and the comparison figure, and return the table. Runs of other models side by side do the
    same; a lock makes each collect-and-write one step, so the last table written holds every
    model finished before it (without it, a run that collected before another model finished
    could write its older table last)."""
    with locked(experiment.out / ".results.lock"):
        results = collect_results(experiment)
        save_results(experiment.out, results)
        if results["models"]:
            comparison_figure(experiment, list(results["models"]), get_objective(experiment.objective))
    return results


def comparison_figure(experiment: Experiment, models: Sequence[str], objective: Objective) -> Path:
    """``best-so-far.png`` in the experiment's folder: the mean best-so-far curves of ``models``,
    BO against the random baseline, to see the table's averages as a search."""
    tag = experiment.bo.tag(experiment.grammar)
    folders = {name: optimization_folder(experiment.out / name, objective.name, tag) for name in models}
    series = {
        name.upper(): proposal_scores(folder) for name, folder in folders.items() if (folder / "proposals.csv").exists()
    }
    return comparison_curves(
        series,
        objective.maximize,
        objective.name,
        experiment.out / "best-so-far.png",
        [name.upper() for name in MODELS],
    )


def collect_results(experiment: Experiment) -> dict:
    """The table, read from the model folders: a model's row is there once its folder holds its
    ``evaluation.json`` and BO summary. Each model writes only into its own folder, so runs of
    different models side by side (``--models``) never drop each other's rows."""
    objective, tag = experiment.objective, experiment.bo.tag(experiment.grammar)
    models = {}
    for name in MODELS:
        folder = experiment.out / name
        evaluation = rf.RunFolder(folder).evaluation
        optimisation = optimization_folder(folder, objective, tag) / "optimization.json"
        if evaluation.exists() and optimisation.exists() and (folder / rf.BEST).exists():
            models[name] = {
                "run": str(folder),
                "training": rf.training_summary(folder),
                "evaluation": json.loads(evaluation.read_text())["stages"],
                "optimization": json.loads(optimisation.read_text()),
            }
    record = experiment.record()
    record["models"] = list(models)
    return {"experiment": record, "models": models}


def save_results(out: Path, results: dict) -> None:
    """``results.json`` and the Markdown table ``results.md``."""
    save_json(out / "results.json", results)
    write_atomic(out / "results.md", lambda handle: handle.write(results_markdown(results).encode()))
