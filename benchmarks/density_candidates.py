"""Which ex-post density `grammar-rae sample` should draw from: candidates fitted on a molecule run's
training codes, each sampled and decoded greedily (the default decoding) with the SMILES constraints.

Candidates: the stored 10-component GMM (the default before), GMMs with more components, the
``kernel`` density (a kept training code plus Gaussian noise, the noise's covariance the codes'
covariance scaled by ``h²``; ``h = 0`` decodes training codes themselves, the ceiling of what any
density on these codes can reach with this decoder), kernels that keep only codes the decoder reads
faithfully (``--faithful``: of ``--pool`` training codes, those whose greedy decode has a Morgan
Tanimoto similarity of at least t to the code's own molecule, one kernel for each t, h of
``--bandwidths`` and size of ``--centres``), and normalising flows from zuko (``--flows``,
``pip install zuko``). Each set of ``--n`` molecules is scored with the MOSES metrics against the
ZINC test split (valid, FCD, Filters, logP/SA/QED Wasserstein-1, IntDiv) and the training split
(novelty); the table gives each density's fit time and the mean log density it gives 2,000
held-out (validation) codes. The last line gives the best candidate's FCD against the stored GMM's,
measured in the same run.

    python benchmarks/density_candidates.py --model results/latent-long/cpu-ar [--n 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import molecule_figures
from rdkit import RDLogger

from grammar_rae.evaluation.references import test_statistics, training_statistics, zinc_split
from grammar_rae.generation.density import LatentDensity
from grammar_rae.generation.sampling import run_density
from grammar_rae.generation.trained import TrainedModel


def training_points(codes: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` training codes drawn at random: what any density on these codes could at best decode."""
    return codes[np.random.default_rng(seed).integers(len(codes), size=n)]


def faithfulness(model: TrainedModel, codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The language's similarity (molecules: Morgan Tanimoto, radius 2, 2048 bits) of each code's
    greedy decode to its own training string (rows of the run's data), 0 where the decode is none."""
    decoded = model.decode(codes, "argmax")
    strings = [model.data.dataset.strings[i] for i in rows]
    return np.array([model.domain.similarity(d, t) for d, t in zip(decoded, strings)])


def fit_flow(kind: str, codes: np.ndarray, held_out: np.ndarray, minutes: float, seed: int):
    """A normalising flow from zuko fitted by maximum likelihood (Adam, batches of 512) on the
    standardised codes for ``minutes`` of CPU time; gives a sampler and the held-out codes' mean log
    density."""
    import zuko

    torch.manual_seed(seed)
    mean, scale = codes.mean(axis=0), codes.std(axis=0)
    x = torch.tensor((codes - mean) / scale, dtype=torch.float32)
    flows = {"maf": zuko.flows.MAF, "realnvp": zuko.flows.RealNVP}
    flow = flows[kind](x.shape[1], transforms=5, hidden_features=(256, 256))
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3)
    started = time.process_time()
    while time.process_time() - started < minutes * 60:
        loss = -flow().log_prob(x[torch.randint(len(x), (512,))]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        held = torch.tensor((held_out - mean) / scale, dtype=torch.float32)
        score = float(flow().log_prob(held).mean()) - float(np.log(scale).sum())

    def draw(n: int) -> np.ndarray:
        with torch.no_grad():
            return (flow().sample((n,)).numpy() * scale + mean).astype(np.float32)

    return draw, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="results/latent-long/cpu-ar")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--components", default="50,200", help="GMM sizes besides the stored 10")
    parser.add_argument("--fit-codes", type=int, default=40000, help="training codes the larger GMMs are fitted on")
    parser.add_argument("--bandwidths", default="0,0.1,0.25,0.5", help="kernel scales h")
    parser.add_argument("--centres", default="0", help="training codes a kernel keeps (0: every one)")
    parser.add_argument(
        "--faithful", default="", help="Tanimoto thresholds t of faithful kernels (1: the same fingerprint)"
    )
    parser.add_argument("--pool", type=int, default=60000, help="training codes decoded to choose faithful ones")
    parser.add_argument("--faithful-only", action="store_true", help="no plain kernels: only the faithful ones")
    parser.add_argument("--flows", default="", help="zuko flows to fit too: maf, realnvp (needs pip install zuko)")
    parser.add_argument("--flow-minutes", type=float, default=8.0, help="CPU-minutes of fitting per flow")
    args = parser.parse_args()
    RDLogger.DisableLog("rdApp.*")
    torch.set_num_threads(1)
    model = TrainedModel.load(args.model, "cpu")
    codes = model.codes("train")
    held_out = model.codes("val")[:2000]
    reference, _ = test_statistics(zinc_split("test"), workers=1)
    training, _ = training_statistics(zinc_split("train"), workers=1)

    print(
        f"{args.n:,} points per density of {args.model} ({len(codes):,} training codes, seed {args.seed}), greedy decoding"
    )
    print(
        "| density | fit CPU s | val. log density | valid | unique | novel | FCD | Filters | logP W1 | SA W1 | QED W1 | IntDiv |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    fcd = {}

    def row(name: str, z: np.ndarray, fitted: float, score: float | None) -> None:
        table = molecule_figures(model.decode(z, "argmax"), reference, training)
        fcd[name] = table["fcd"]
        print(
            f"| {name} | {fitted:.0f} | {'–' if score is None else f'{score:.1f}'} | {table['valid']:.3f} | "
            f"{table['unique']:.3f} | {table['novelty']:.3f} | {table['fcd']:.2f} | "
            f"{table['filters']:.3f} | {table['logp']:.2f} | {table['sa']:.2f} | {table['qed']:.3f} | {table['intdiv']:.3f} |",
            flush=True,
        )

    stored, _ = run_density(model, "gmm")
    row("GMM, 10 components (stored)", stored.sample(args.n, seed=args.seed), 0.0, stored.score(held_out))
    bandwidths = [float(b) for b in args.bandwidths.split(",") if b]
    centres = [int(c) for c in args.centres.split(",")]
    for h in bandwidths if not args.faithful_only else []:
        if h == 0:
            row("training codes", training_points(codes, args.n, args.seed), 0.0, None)
            continue
        for m in centres:
            started = time.process_time()
            kernel = LatentDensity("kernel", m or len(codes), seed=args.seed, bandwidth=h).fit(codes)
            fitted = time.process_time() - started
            z = kernel.sample(args.n, seed=args.seed)
            row(f"kernel, h = {h:g}, {kernel.components:,} codes kept", z, fitted, kernel.score(held_out))
    thresholds = [float(t) for t in args.faithful.split(",") if t]
    if thresholds:
        started = time.process_time()
        pool = np.random.default_rng(args.seed).permutation(len(codes))[: args.pool]
        similarity = faithfulness(model, codes[pool], model.data.rows("train")[pool])
        judged = time.process_time() - started
        settings = [(t, h, m) for t in thresholds for h in bandwidths if h > 0 for m in centres]
        for t, h, m in settings:
            kept = codes[pool[similarity >= t]]
            kernel = LatentDensity("kernel", min(len(kept), m or len(kept)), seed=args.seed, bandwidth=h).fit(kept)
            name = f"faithful kernel, similarity ≥ {t:g} ({len(kept):,} of {len(pool):,}), h = {h:g}, {kernel.components:,} kept"
            row(name, kernel.sample(args.n, seed=args.seed), judged, kernel.score(held_out))
    for kind in (k for k in args.flows.split(",") if k):
        started = time.process_time()
        flow, score = fit_flow(kind, codes, held_out, args.flow_minutes, args.seed)
        row(f"flow ({kind}, {args.flow_minutes:g} CPU-min)", flow(args.n), time.process_time() - started, score)
    subset = codes[np.random.default_rng(args.seed).permutation(len(codes))[: args.fit_codes]]
    for k in (int(c) for c in args.components.split(",") if c):
        started = time.process_time()
        density = LatentDensity("gmm", k, seed=0).fit(subset)
        fitted = time.process_time() - started
        row(
            f"GMM, {k} components ({len(subset):,} codes)",
            density.sample(args.n, seed=args.seed),
            fitted,
            density.score(held_out),
        )
    base = "GMM, 10 components (stored)"
    best = min((name for name in fcd if name != "training codes"), key=fcd.get)
    print(
        f"lowest FCD of a density: {best} ({fcd[best]:.2f}), {fcd[best] / fcd[base]:.2f}x the stored GMM's ({fcd[base]:.2f})"
    )


if __name__ == "__main__":
    main()
