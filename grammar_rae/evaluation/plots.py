"""Pictures of a run (PNG, matplotlib's Agg backend, RDKit drawing): the latent space, sample
properties against the training data, and grids of sampled molecules or curves of sampled
expressions. Each function writes one file atomically and returns its path."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from rdkit import Chem  # noqa: E402
from rdkit.Chem import Draw  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from grammar_rae.data.expressions import GRID, evaluator  # noqa: E402
from grammar_rae.data.validity import is_valid  # noqa: E402
from grammar_rae.files import write_atomic  # noqa: E402
from grammar_rae.objectives.expressions import expr_fit, target  # noqa: E402
from grammar_rae.objectives.molecules import PROPERTIES, property_table  # noqa: E402


def _save(figure, path: str | Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    write_atomic(path, lambda out: out.write(buffer.getvalue()))
    return Path(path)


def latent_pca(codes: np.ndarray, values: np.ndarray, label: str, path: str | Path, title: str = "") -> Path:
    """2-D PCA of latent codes, each point coloured by a value; returns the figure's path.

    Args:
        codes: the codes (N, d).
        values: one value per code (NaN values are grey).
        label: the colour bar's label.
        path: the PNG written.
        title: the figure's title.
    """
    points = PCA(n_components=2).fit(codes).transform(codes)
    finite = np.isfinite(values)
    figure, axes = plt.subplots(figsize=(6.5, 5.5))
    axes.scatter(points[~finite, 0], points[~finite, 1], s=4, c="lightgrey", label="no score")
    low, high = np.percentile(values[finite], [1, 99]) if finite.any() else (0, 1)
    shown = axes.scatter(
        points[finite, 0], points[finite, 1], s=4, c=values[finite], cmap="viridis", vmin=low, vmax=high
    )
    figure.colorbar(shown, ax=axes, label=label)
    axes.set(
        xlabel="first principal component",
        ylabel="second principal component",
        title=title or f"Latent codes coloured by {label}",
    )
    return _save(figure, path)


def property_histograms(samples: np.ndarray, training: np.ndarray, names: Sequence[str], path: str | Path) -> Path:
    """One histogram per property column: generated molecules against training molecules."""
    figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.4))
    for ax, name, s, t in zip(np.atleast_1d(axes), names, samples.T, training.T):
        s, t = s[np.isfinite(s)], t[np.isfinite(t)]
        both = np.concatenate([s, t])
        bins = np.histogram_bin_edges(both, bins=40) if len(both) else 10
        for values, label in ((t, "training"), (s, "samples")):
            if len(values):
                ax.hist(values, bins=bins, density=True, alpha=0.5, label=label)
        ax.set(title=name)
    np.atleast_1d(axes)[0].legend()
    return _save(figure, path)


def molecule_grid(
    smiles: Sequence[str], path: str | Path, legends: Sequence[str] | None = None, per_row: int = 5
) -> Path:
    """A grid image of molecules (unreadable SMILES are left out)."""
    pairs = [(Chem.MolFromSmiles(s), legend) for s, legend in zip(smiles, legends or smiles)]
    pairs = [(mol, legend) for mol, legend in pairs if mol is not None]
    image = Draw.MolsToGridImage(
        [mol for mol, _ in pairs],
        molsPerRow=per_row,
        subImgSize=(260, 220),
        legends=[str(legend)[:40] for _, legend in pairs],
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_atomic(path, lambda out: out.write(buffer.getvalue()))
    return Path(path)


def expression_curves(expressions: Sequence[str], path: str | Path) -> Path:
    """Curves of expressions on the scoring grid against the target f*(x) = 1/3 + x + sin(x·x)."""
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.plot(GRID, target(), color="black", linewidth=2, label="target 1/3 + x + sin(x·x)")
    for text in expressions:
        axes.plot(GRID, evaluator().evaluate(text), linewidth=1, alpha=0.8, label=text)
    axes.set(ylim=(-15, 15), xlabel="x", ylabel="f(x)")
    axes.legend(fontsize=7, loc="upper left")
    return _save(figure, path)


def sample_figures(
    model, strings: Sequence[str | None], prefix: str | Path, workers: int | None = None, grid: int = 20
) -> list[Path]:
    """The figures of a sample (``<prefix>-*.png``): the latent PCA of the run's test codes
    coloured by the objective, and by the language's figures a grid of sampled molecules and property
    histograms against 5,000 training molecules, or curves of sampled expressions.

    Args:
        model: the model that drew the sample (its run gives the test and training strings).
        strings: the sample (None where decoding failed).
        prefix: the figures' path without ``-latent.png`` and the like.
        workers: processes for the molecular properties (default: all cores).
        grid: how many valid molecules the grid shows.
    """
    prefix = Path(prefix)
    valid = [s for s in strings if s is not None and is_valid(model.grammar.name, s)]
    test = model.data.strings("test")
    codes = model.codes("test")
    paths = []
    if model.domain.figures == "molecules":
        table = property_table(test, workers)
        raw = table[:, 0] - table[:, 2] - table[:, 3]
        paths.append(latent_pca(codes, raw, "penalized logP (logP − SA − cycle)", f"{prefix}-latent.png"))
        training = model.data.strings("train")
        picked = np.random.default_rng(0).choice(len(training), size=min(5000, len(training)), replace=False)
        reference = property_table([training[i] for i in picked], workers)
        paths.append(
            property_histograms(property_table(valid, workers), reference, PROPERTIES, f"{prefix}-properties.png")
        )
        if valid:
            paths.append(molecule_grid(valid[:grid], f"{prefix}-molecules.png"))
    elif model.domain.figures == "expressions":
        paths.append(latent_pca(codes, expr_fit(test), "expression fit (lower is better)", f"{prefix}-latent.png"))
        if valid:
            paths.append(expression_curves(valid[:8], f"{prefix}-curves.png"))
    return paths


def _best_so_far(runs: dict[int, Sequence[float]], maximize: bool) -> list[np.ndarray]:
    """Each seed's running best score, in evaluation order."""
    best = np.maximum.accumulate if maximize else np.minimum.accumulate
    return [best(np.asarray(scores, dtype=float)) for _, scores in sorted(runs.items())]


def _mean_curve(axes, curves: list[np.ndarray], style: str, colour: str, label: str) -> None:
    length = min(len(c) for c in curves)
    mean = np.mean([c[:length] for c in curves], axis=0)
    axes.plot(
        np.arange(1, length + 1), mean, style, linewidth=2, color=colour, label=f"{label}, mean of {len(curves)} seeds"
    )


def _finish_curves(axes, shown: list[np.ndarray], maximize: bool, label: str, title: str) -> None:
    """Axis limits that leave out the first few evaluations' worst values (an invalid first
    proposal scores the objective's worst) so the curves can be read; labels and legend."""
    if shown:
        values = np.concatenate([c[min(len(c) - 1, max(1, len(c) // 20)) :] for c in shown])
        low, high = float(values.min()), float(values.max())
        margin = 0.05 * (high - low or 1.0)
        axes.set_ylim(low - margin, high + margin)
    axes.set(
        xlabel="evaluations", ylabel=f"best {label} so far ({'higher' if maximize else 'lower'} is better)", title=title
    )
    axes.legend(fontsize=8)


def best_so_far_curves(
    scores_by_seed: dict[int, Sequence[float]],
    maximize: bool,
    label: str,
    path: str | Path,
    baseline: dict[int, Sequence[float]] | None = None,
) -> Path:
    """Best score found after each evaluation: each seed a thin line, the mean over seeds a thick
    one, BO solid and the random baseline dashed; returns the figure's path.

    Args:
        scores_by_seed: each seed's scores in evaluation order.
        maximize: whether higher scores are better.
        label: the objective's name for the axis.
        path: the PNG written.
        baseline: the random baseline's scores by seed, drawn dashed (None: none).
    """
    figure, axes = plt.subplots(figsize=(7, 4.5))
    shown = []
    for (runs, style, name), colour in zip(
        ((scores_by_seed, "-", "BO"), (baseline or {}, "--", "random")), ("C0", "C3")
    ):
        curves = _best_so_far(runs, maximize)
        for curve in curves:
            axes.plot(np.arange(1, len(curve) + 1), curve, style, linewidth=0.6, alpha=0.35, color=colour)
        if curves:
            _mean_curve(axes, curves, style, colour, name)
            shown += curves
    _finish_curves(axes, shown, maximize, label, f"Bayesian optimisation of {label}")
    return _save(figure, path)


def comparison_curves(
    series: dict[str, dict[str, dict[int, Sequence[float]]]],
    maximize: bool,
    label: str,
    path: str | Path,
    order: Sequence[str] = (),
    by: str = "model",
) -> Path:
    """The mean best-so-far curve of each entry, one colour per entry, BO solid, random dashed;
    returns the figure's path.

    Args:
        series: ``series[name][method][seed]``: the scores in evaluation order, method ``bo`` or
            ``random``; a name is a model, or the BO settings.
        maximize: whether higher scores are better.
        label: the objective's name for the axis.
        path: the PNG written.
        order: names whose colours keep their place, whichever others are shown.
        by: what a name is, for the legend's title (``model``, ``settings``).
    """
    figure, axes = plt.subplots(figsize=(7, 4.5))
    shown = []
    for index, (name, methods) in enumerate(series.items()):
        colour = f"C{list(order).index(name) if name in order else len(order) + index}"
        for method, style in (("bo", "-"), ("random", "--")):
            curves = _best_so_far(methods.get(method, {}), maximize)
            if curves:
                _mean_curve(axes, curves, style, colour, f"{name} {'BO' if method == 'bo' else 'random'}")
                shown += curves
    _finish_curves(axes, shown, maximize, label, f"Bayesian optimisation of {label}, by {by}")
    return _save(figure, path)


def top_k_curves(curves: dict[str, dict[str, list[np.ndarray]]], top: int, path: str | Path) -> Path:
    """One panel per task: the mean of the best ``top`` scores after each oracle call, averaged over
    seeds, for each method (``curves[task][method]`` holds one curve per seed); BO solid, random dashed."""
    columns = min(4, len(curves))
    rows = -(-len(curves) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(3.3 * columns, 2.5 * rows), squeeze=False)
    for axes, (task, methods) in zip(grid.flat, curves.items()):
        for (method, runs), colour in zip(sorted(methods.items()), ("C0", "C3")):
            if runs:
                _mean_curve(axes, runs, "-" if method == "bo" else "--", colour, method)
        axes.set_title(task, fontsize=9)
        axes.tick_params(labelsize=7)
    for axes in list(grid.flat)[len(curves) :]:
        axes.axis("off")
    grid.flat[0].legend(fontsize=6)
    figure.supxlabel("oracle calls")
    figure.supylabel(f"mean of the top {top} so far")
    figure.tight_layout()
    return _save(figure, path)
