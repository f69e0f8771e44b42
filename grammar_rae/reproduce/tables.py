"""The reproduction's results as Markdown: our measured numbers next to the papers' (shipped in
``data/paper_results.json``)."""

from __future__ import annotations

import json
from functools import lru_cache

from grammar_rae.resources import shipped


@lru_cache(maxsize=1)
def paper_results() -> dict:
    """The published numbers (protocol section 10)."""
    return json.loads((shipped("grammar_rae.datafiles") / "paper_results.json").read_text())


def _stat(stats: dict | None) -> str:
    if not stats or stats.get("mean") is None:
        return "n/a"
    return f"{stats['mean']:.2f} ± {stats['sem']:.2f}"


def _paper(pair: list | None) -> str:
    return "" if pair is None else f"{pair[0]:.2f} ± {pair[1]:.2f}"


def _tops(entries: list[dict], extra: str | None = None) -> str:
    def one(entry: dict) -> str:
        raw = f", {extra} {entry[extra]:.2f}" if extra and extra in entry else ""
        return f"`{entry['string']}` ({entry['score']:.2f}{raw})"

    return "<br>".join(one(e) for e in entries) or "none valid"


def _fraction(stage: dict | None, key: str = "validity") -> str:
    return "" if not stage else f"{stage[key]:.3f}"


def results_markdown(results: dict) -> str:
    """The BO table (ours and the paper's side by side) and a model-quality table."""
    experiment = results["experiment"]
    paper = paper_results().get(experiment["name"], {})
    extra = experiment.get("extra_objective")
    seeds = experiment["seeds"]
    lines = [
        (f"# {experiment['name'].capitalize()}: {experiment['objective']} (preset {experiment['preset']}, "
        f"seeds {seeds[0]}–{seeds[-1]})"),
        "",
        ("Bayesian optimisation (protocol §9): fraction valid and average score of the valid proposals, mean ± "
        f"standard error over {len(seeds)} seeds (std/√seeds); the paper's ± is the std over 5 trials. "
        "`random` draws the same number of points from the ex-post GMM."),
        "",
        "| model | method | fraction valid | average score | paper: fraction valid | paper: average score | top 3 | surrogate RMSE | surrogate log-lik. |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, entry in results["models"].items():
        opt = entry["optimization"]
        theirs = paper.get(name, {})
        surrogate = opt["bo"]["surrogate"]
        lines.append(
            f"| {name} | BO | {_stat(opt['bo']['fraction_valid'])} | {_stat(opt['bo']['average_score'])} | "
            f"{_paper(theirs.get('fraction_valid'))} | {_paper(theirs.get('average_score'))} | "
            f"{_tops(opt['bo']['top'], extra)} | {_stat(surrogate['rmse'])} | {_stat(surrogate['log_likelihood'])} |"
        )
        if "random" in opt:
            lines.append(
                f"| {name} | random | {_stat(opt['random']['fraction_valid'])} | {_stat(opt['random']['average_score'])} "
                f"| | | {_tops(opt['random']['top'], extra)} | | |"
            )
    lines += [
        "",
        ("Models (protocol §7): exact-match reconstruction of test strings; validity of 1,000 points × 100 decodes "
        "from the ex-post GMM and from N(0, I)."),
        "",
        "| model | epochs | training (min) | best validation loss | reconstruction | validity, GMM | validity, N(0, I) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, entry in results["models"].items():
        training, stages = entry["training"], entry["evaluation"]
        lines.append(
            f"| {name} | {training['epochs']} | {training['minutes']} | {training['val_loss']:.4f} | "
            f"{_fraction(stages.get('reconstruction'), 'accuracy')} | {_fraction(stages.get('validity/gmm'))} | "
            f"{_fraction(stages.get('validity/prior'))} |"
        )
    return "\n".join(lines) + "\n"
