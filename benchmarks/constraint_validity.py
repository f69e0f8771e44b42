"""What each SMILES constraint adds to validity: prior samples of one run decoded with none, some
or all of the semantic constraints, and why RDKit rejects the rest.

The same latent points (drawn from the run's ex-post GMM) are decoded once each, by sampling
with the same random draws, under each setting. Failures are classified from RDKit's own
verdict: a string it cannot read at all ("ring bonds": unclosed or repeated ring bonds), a valence error, a
kekulisation (aromaticity) error, or a derivation that did not finish within the maximum
length. Valid molecules with unpaired electrons (``[CH]``) are counted as radicals. The last
line is the validity with all constraints against none, measured in the same run.

    python benchmarks/constraint_validity.py --model runs/NAME [--n 1000] [--decode sample|argmax]
"""

from __future__ import annotations

import argparse
from collections import Counter

import torch
from rdkit import Chem, RDLogger
from rdkit.Chem import Descriptors

from grammar_rae.generation.decoding import masked_decode
from grammar_rae.generation.sampling import run_density
from grammar_rae.generation.trained import TrainedModel
from grammar_rae.grammar.constraints import make_constraints

SETTINGS = {"none": None, "rings": ("rings",), "valences": ("valences",), "rings + valences": ("rings", "valences")}
CLASSES = ("valid", "radical", "ring bonds", "valence", "aromaticity", "unfinished")


def outcome(smiles: str | None) -> str:
    """The class of one decoded string."""
    if smiles is None:
        return "unfinished"
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return "ring bonds"
    try:
        Chem.SanitizeMol(mol)
    except Chem.AtomValenceException:
        return "valence"
    except (Chem.KekulizeException, Chem.AtomKekulizeException):
        return "aromaticity"
    except Exception:  # noqa: BLE001 - anything else RDKit refuses
        return "ring bonds"
    return "radical" if Descriptors.NumRadicalElectrons(mol) else "valid"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a SMILES run folder or pretrained:NAME")
    parser.add_argument("--n", type=int, default=1000, help="latent points (default 1000)")
    parser.add_argument("--decode", choices=("sample", "argmax"), default="sample")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    RDLogger.DisableLog("rdApp.*")
    model = TrainedModel.load(args.model, "cpu")
    density, _ = run_density(model, "gmm")
    z = torch.as_tensor(density.sample(args.n, seed=args.seed), dtype=torch.float32)
    steps = model.config.max_length
    validity = {}
    print(f"{args.n:,} GMM samples of {model.folder} ({model.config.decoder} decoder), {args.decode} decoding")
    print("constraints".ljust(18) + "".join(c.rjust(13) for c in CLASSES) + "  fallback rows")
    for name, parts in SETTINGS.items():
        constraints = None if parts is None else make_constraints(model.grammar, args.n, steps, parts)
        generator = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            result = masked_decode(
                model.network.stepper(z), args.n, model.tables, steps, args.decode, generator, constraints=constraints
            )
        rules = result.rules.numpy()
        strings = [model.codec.decode(r) if ok else None for r, ok in zip(rules, result.valid.tolist())]
        counts = Counter(outcome(s) for s in strings)
        validity[name] = (counts["valid"] + counts["radical"]) / args.n
        print(
            name.ljust(18)
            + "".join(f"{counts[c] / args.n:13.3f}" for c in CLASSES)
            + f"  {int((result.fallbacks > 0).sum()):13d}",
            flush=True,
        )
    print(
        f"validity with rings + valences: {validity['rings + valences']:.3f} against {validity['none']:.3f} without "
        f"constraints ({validity['rings + valences'] / max(validity['none'], 1e-9):.1f}x)"
    )


if __name__ == "__main__":
    main()
