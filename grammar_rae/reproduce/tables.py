"""The reproduction's results as Markdown: our measured numbers next to the papers' (shipped in
``data/paper_results.json``)."""

from __future__ import annotations

import json
from functools import lru_cache

from grammar_rae.data.domains import domain_of
from grammar_rae.optimization.report import mean_sem_text
from grammar_rae.resources import shipped


@lru_cache(maxsize=1)
def paper_results() -> dict:
    """The published numbers (protocol section 10)."""
    return json.loads((shipped("grammar_rae.datafiles") / "paper_results.json").read_text())


def paper_bo(domain: str, objective: str, model: str) -> str:
    """The paper's BO figures for ``model`` on ``domain``'s experiment, in words, where ``objective``
    is the one it optimised; else empty."""
    published = paper_results()
    theirs = published.get(domain, {}).get(model)
    if not theirs or published["objectives"].get(domain) != objective:
        return ""
    best = _paper_best(theirs)
    label = "top" if "top" in theirs else "best"
    return (
        f"the RAE paper, same model: valid {_paper(theirs['fraction_valid'])}, average {_paper(theirs['average_score'])}"
        f"{f', {label} {best}' if best else ''} (± std over 5 trials)"
    )


def _stat(stats: dict | None) -> str:
    return mean_sem_text(stats, 2)


def _paper(pair: list | None) -> str:
    return "" if pair is None else f"{pair[0]:.2f} ± {pair[1]:.2f}"


def _tops(entries: list[dict], extra: str | None = None) -> str:
    def one(entry: dict) -> str:
        raw = f", {extra} {entry[extra]:.2f}" if extra and extra in entry else ""
        return f"`{entry['string']}` ({entry['score']:.2f}{raw})"

    return "<br>".join(one(e) for e in entries) or "none valid"


def _fraction(stage: dict | None, key: str = "validity") -> str:
    return "" if not stage else f"{stage[key]:.3f}"


def _paper_best(theirs: dict) -> str:
    """The paper's best score (expressions) or top-3 scores (molecules)."""
    if "top" in theirs:
        return ", ".join(f"{v:.2f}" for v in theirs["top"])
    return "" if theirs.get("best") is None else f"{theirs['best']:.2f}"


# the columns of the samples table: (heading, key in the evaluation's samples stage)
SAMPLE_COLUMNS = {
    "smiles": [
        ("valid", "valid"),
        ("unique@1k", "unique@1k"),
        ("unique@10k", "unique@10k"),
        ("novelty", "novelty"),
        ("IntDiv", "intdiv"),
        ("IntDiv2", "intdiv2"),
        ("SNN", "snn"),
        ("Frag", "frag"),
        ("Scaf", "scaf"),
        ("Filters", "filters"),
        ("FCD", "fcd"),
        ("logP W1", "logp"),
        ("SA W1", "sa"),
        ("QED W1", "qed"),
        ("weight W1", "weight"),
    ],
    "expr": [
        ("valid", "validity"),
        ("unique", "uniqueness"),
        ("novelty", "novelty"),
        ("mean expr-fit", "expr_fit_mean"),
    ],
}


def samples_markdown(results: dict) -> list[str]:
    """One row per model and density of the evaluation's samples stage (the MOSES table for molecules)."""
    experiment = results["experiment"]
    columns = SAMPLE_COLUMNS.get(experiment["grammar"], [])
    rows = [
        (name, stage_name.split("/", 1)[1], stage)
        for name, entry in results["models"].items()
        for stage_name, stage in entry["evaluation"].items()
        if stage_name.startswith("samples/")
    ]
    if not columns or not rows:
        return []
    n = experiment.get("evaluation", {}).get("samples")
    lines = [
        "",
        f"Samples (protocol §7): {n:,} latent points per density, one decode each." if n else "Samples.",
        "",
        "| model | density | " + " | ".join(h for h, _ in columns) + " |",
        "| --- | --- | " + " | ".join("---" for _ in columns) + " |",
    ]
    earlier = False
    moses = domain_of(experiment["grammar"]).reference_metrics == "moses"
    for name, density, stage in rows:
        cells = ["" if stage.get(key) is None else f"{stage[key]:.3f}" for _, key in columns]
        old = moses and "weight" not in stage  # evaluated before the MOSES-exact Frag/Filters
        earlier |= old
        lines.append(
            f"| {name}{' *' if old else ''} | {'N(0, I)' if density == 'prior' else density.upper()} | "
            + " | ".join(cells)
            + " |"
        )
    if earlier:
        lines += [
            "",
            "\\* Evaluated before Frag and Filters followed MOSES exactly (BRICS pieces counted with repeats; "
            "MOSES's MCF and PAINS lists) and before the property distances existed; `grammar-rae evaluate --stages samples --force` "
            "with the run's evaluation settings recomputes them.",
        ]
    return lines


def results_markdown(results: dict) -> str:
    """The BO table (ours and the paper's side by side) and a model-quality table."""
    experiment = results["experiment"]
    paper = paper_results().get(experiment["name"], {})
    extra = experiment.get("extra_objective")
    evaluation = experiment.get("evaluation", {})
    seeds = experiment["seeds"]
    lines = [
        (
            f"# {experiment['name'].capitalize()}: {experiment['objective']} (preset {experiment['preset']}, "
            f"seeds {seeds[0]}–{seeds[-1]})"
        ),
        "",
        (
            "Bayesian optimisation (protocol §9): fraction valid and average score of the valid proposals, mean ± "
            f"standard error over {len(seeds)} seeds (sample std, ddof = 1, over √seeds); the paper's ± is the std over 5 trials. "
            "`random` draws the same number of points from the ex-post GMM."
        ),
        "",
        (
            "| model | method | fraction valid | average score | paper: fraction valid | paper: average score | top 3 | "
            "paper: best | surrogate RMSE | surrogate log-lik. |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, entry in results["models"].items():
        opt = entry["optimization"]
        theirs = paper.get(name, {})
        surrogate = opt["bo"]["surrogate"]
        lines.append(
            f"| {name} | BO | {_stat(opt['bo']['fraction_valid'])} | {_stat(opt['bo']['average_score'])} | "
            f"{_paper(theirs.get('fraction_valid'))} | {_paper(theirs.get('average_score'))} | "
            f"{_tops(opt['bo']['top'], extra)} | {_paper_best(theirs)} | {_stat(surrogate['rmse'])} | "
            f"{_stat(surrogate['log_likelihood'])} |"
        )
        if "random" in opt:
            lines.append(
                f"| {name} | random | {_stat(opt['random']['fraction_valid'])} | {_stat(opt['random']['average_score'])} "
                f"| | | {_tops(opt['random']['top'], extra)} | | | |"
            )
    lines += [
        "",
        (
            "Models (protocol §7): exact-match reconstruction of test strings; validity of "
            f"{evaluation.get('prior_points', 1000):,} points × {evaluation.get('prior_decodes', 100)} decodes "
            "from the ex-post GMM and from N(0, I)."
        ),
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
    return "\n".join(lines + samples_markdown(results)) + "\n"
