"""How GRAE's default β (latent penalty) and λ (decoder L2) were chosen, on validation data.

GrammarRAE expression models (paper preset, ``--epochs`` each) are trained with β in a grid at
a fixed λ, then λ in a grid at the best β. Each is scored on the validation split by
(1) reconstruction accuracy: argmax decode of 2,000 validation expressions, exact match, and
(2) ex-post sampling validity: a 10-component full-covariance Gaussian mixture fitted on the
latent codes of 20,000 training expressions, 1,000 samples, argmax decode, fraction that
completes a derivation. The choice: among settings whose reconstruction accuracy is within
0.02 of the best, the one with the highest sampling validity. Results go to
``results/grae_defaults.json`` (resumable: finished settings are skipped).

    python examples/choose_grae_defaults.py [--epochs 8]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sklearn.mixture import GaussianMixture

from grammar_rae import TrainedModel, train
from grammar_rae.evaluation import reconstruction_accuracy
from grammar_rae.training import split_strings

BETAS = [0.0, 1e-3, 1e-2, 1e-1, 1.0]
LAMBDA_FIXED = 1e-6
LAMBDAS = [0.0, 1e-7, 1e-5, 1e-4]


def score(folder: Path) -> dict:
    """Validation reconstruction accuracy and GMM-sampling validity of one run."""
    model = TrainedModel.load(folder, "cpu")
    val = split_strings(folder, "val")[:2000]
    train_codes, _ = model.encode(split_strings(folder, "train")[:20000])
    gmm = GaussianMixture(10, covariance_type="full", random_state=0).fit(train_codes)
    decoded = model.decode(gmm.sample(1000)[0])
    return {
        "reconstruction": reconstruction_accuracy(model, val).accuracy,
        "gmm_validity": sum(d is not None for d in decoded) / len(decoded),
        "gmm_unique": len({d for d in decoded if d is not None}) / len(decoded),
    }


def run(beta: float, lam: float, epochs: int, runs: Path, results: dict, out: Path) -> None:
    key = f"beta={beta:g},lam={lam:g}"
    if key in results:
        return
    folder = runs / key
    train(
        "expr",
        "grae",
        out=folder,
        resume=(folder / "checkpoint.pt").exists(),
        epochs=epochs,
        beta=beta,
        lam=lam,
        reg="l2",
    )
    results[key] = {"beta": beta, "lam": lam, **score(folder)}
    print(key, results[key], flush=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


def choose(results: dict, keys: list[str]) -> str:
    best = max(results[k]["reconstruction"] for k in keys)
    close = [k for k in keys if results[k]["reconstruction"] >= best - 0.02]
    return max(close, key=lambda k: results[k]["gmm_validity"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--runs", type=Path, default=Path("runs/grae-defaults"))
    parser.add_argument("--out", type=Path, default=Path("results/grae_defaults.json"))
    args = parser.parse_args()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for beta in BETAS:
        run(beta, LAMBDA_FIXED, args.epochs, args.runs, results, args.out)
    best_beta = results[choose(results, [f"beta={b:g},lam={LAMBDA_FIXED:g}" for b in BETAS])]["beta"]
    for lam in LAMBDAS:
        run(best_beta, lam, args.epochs, args.runs, results, args.out)
    lam_keys = [f"beta={best_beta:g},lam={lam:g}" for lam in [*LAMBDAS, LAMBDA_FIXED]]
    chosen = results[choose(results, lam_keys)]
    print(
        f"chosen: beta={chosen['beta']:g}, lam={chosen['lam']:g} "
        f"(reconstruction {chosen['reconstruction']:.3f}, GMM validity {chosen['gmm_validity']:.3f})"
    )


if __name__ == "__main__":
    main()
