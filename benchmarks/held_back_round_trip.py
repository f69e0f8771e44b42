"""Greedy round trip, from the CLI, of molecules that are not in ZINC250k, given as users write them.

The held-back molecules come with every RDKit install, so the measurement needs nothing but the
project: the ChEMBL actives of RDKit's fraggle example (``Contrib/fraggle/data``) and a seeded
sample of ``--n`` compounds of the NCI open database subset (``Data/NCI/first_5K.smi``). Kept are
single molecules (no salts or mixtures) with heavy atoms in ZINC250k's range that the model can
read and that are not in ZINC250k (canonical SMILES, stereo included); each is given as RDKit's
canonical aromatic SMILES. A round trip is ``grammar-rae encode --file`` (its default refined
codes) then ``grammar-rae decode --decode argmax``, and counts where the decoded string is the
same molecule (canonical SMILES, stereo included). Each model runs in its own process, one thread.
The last line is the model's round trip against the baseline's, measured in the same run.

    python benchmarks/held_back_round_trip.py [--model pretrained:zinc-grae] [--baseline pretrained:zinc-grae-paper-encoder] [--n 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import data_argument, gives_back
from rdkit import Chem, RDConfig, RDLogger

from grammar_rae.cli.options import positive_int
from grammar_rae.data.validity import canonical_many
from grammar_rae.generation.trained import TrainedModel

SOURCES = {  # name → file under RDKit's install, the SMILES being each line's first field
    "ChEMBL actives": "Contrib/fraggle/data/ChEMBL_11265_actives.smi",
    "NCI open set": "Data/NCI/first_5K.smi",
}


def held_back(path: Path, zinc: set[str], model: TrainedModel, heavy: range) -> list[str]:
    """Canonical aromatic SMILES of the file's single molecules with heavy atoms in ``heavy``,
    not in ``zinc``, that ``model`` reads, once each, in file order."""
    kept: dict[str, None] = {}
    for line in path.read_text().splitlines():
        mol = Chem.MolFromSmiles(line.split()[0]) if line.strip() else None
        if mol is not None and len(Chem.GetMolFrags(mol)) == 1 and mol.GetNumHeavyAtoms() in heavy:
            kept.setdefault(Chem.MolToSmiles(mol))
    fresh = [s for s in kept if s not in zinc]
    _, errors = model.sequence_indices(fresh)
    return [s for i, s in enumerate(fresh) if i not in errors]


def cli_round_trip(model: str, molecules: list[str], folder: Path) -> np.ndarray:
    """Whether ``grammar-rae encode`` then ``decode --decode argmax`` gives each molecule back."""
    cli = [shutil.which("grammar-rae") or sys.exit("grammar-rae is not installed in this environment.")]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    source = folder / "held-back.smi"
    source.write_text("\n".join(molecules) + "\n")
    codes = subprocess.run(
        [*cli, "encode", "--model", model, "--file", str(source)], env=env, capture_output=True, text=True, check=True
    ).stdout
    decoded = subprocess.run(
        [*cli, "decode", "--model", model, "--decode", "argmax"],
        input=codes,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return gives_back([json.loads(line).get("output") for line in decoded.splitlines()], molecules)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pretrained:zinc-grae")
    parser.add_argument("--baseline", default="pretrained:zinc-grae-paper-encoder")
    parser.add_argument("--n", type=positive_int, default=300, help="NCI compounds drawn (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the NCI draw")
    data_argument(parser)
    args = parser.parse_args()
    RDLogger.DisableLog("rdApp.*")
    lines = (args.data_dir / "zinc250k.smi").read_text().split()
    zinc = {s for s in canonical_many("smiles", lines) if s is not None}
    model = TrainedModel.load(args.model, "cpu")
    heavy = range(6, 39)  # ZINC250k's molecules have 6 to 38 heavy atoms
    root = Path(RDConfig.RDDataDir).parent
    sets = {name: held_back(root / file, zinc, model, heavy) for name, file in SOURCES.items()}
    sets["NCI open set"] = random.Random(args.seed).sample(sets["NCI open set"], min(args.n, len(sets["NCI open set"])))
    share = {}
    print(f"| held-back set | molecules | {args.model} | {args.baseline} |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for name, molecules in sets.items():
            hits = [cli_round_trip(m, molecules, Path(folder)) for m in (args.model, args.baseline)]
            share[name] = [float(h.mean()) for h in hits]
            print(f"| {name} | {len(molecules)} | {share[name][0]:.3f} | {share[name][1]:.3f} |")
    new, old = (sum(s[i] * len(sets[n]) for n, s in share.items()) / sum(map(len, sets.values())) for i in (0, 1))
    print(
        f"greedy round trip of held-back molecules: {new:.3f} against {old:.3f} for {args.baseline} ({new / max(old, 1e-9):.2f}x)"
    )


if __name__ == "__main__":
    main()
