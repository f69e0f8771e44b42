"""Reference values for tests/test_objectives.py: GuacaMol's own scoring functions (guacamol 0.5.5) for
the 19 PMO tasks defined in data/pmo_tasks.json, on 1,000 ZINC250k molecules chosen at random (seed 0).

guacamol does not import on today's SciPy (it takes ``histogram`` from ``scipy``) and needs the
``fcd`` package for a benchmark not used here, so both are stood in for before the import:

    pip install --no-deps guacamol==0.5.5
    python tests/reference/make_pmo_reference.py ../shared/data/zinc250k.smi tests/reference/pmo_guacamol_scores.json.gz
"""

import sys
import time
import types

import numpy
import scipy

scipy.histogram = numpy.histogram
sys.modules.setdefault("fcd", types.ModuleType("fcd"))
import guacamol.standard_benchmarks as sb
from rdkit import RDLogger

RDLogger.DisableLog("rdApp.*")
G = {
    "albuterol_similarity": lambda: sb.similarity(
        smiles="CC(C)(C)NCC(O)c1ccc(O)c(CO)c1", name="Albuterol", fp_type="FCFP4", threshold=0.75
    ),
    "amlodipine_mpo": sb.amlodipine_rings,
    "celecoxib_rediscovery": lambda: sb.similarity(
        smiles="CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F",
        name="Celecoxib",
        fp_type="ECFP4",
        threshold=1.0,
        rediscovery=True,
    ),
    "deco_hop": sb.decoration_hop,
    "fexofenadine_mpo": sb.hard_fexofenadine,
    "isomers_c7h8n2o2": sb.isomers_c7h8n2o2,
    "isomers_c9h10n2o2pf2cl": sb.isomers_c9h10n2o2pf2cl,
    "median1": sb.median_camphor_menthol,
    "median2": sb.median_tadalafil_sildenafil,
    "mestranol_similarity": lambda: sb.similarity(
        smiles="COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1",
        name="Mestranol",
        fp_type="AP",
        threshold=0.75,
    ),
    "osimertinib_mpo": sb.hard_osimertinib,
    "perindopril_mpo": sb.perindopril_rings,
    "ranolazine_mpo": sb.ranolazine_mpo,
    "scaffold_hop": sb.scaffold_hop,
    "sitagliptin_mpo": sb.sitagliptin_replacement,
    "thiothixene_rediscovery": lambda: sb.similarity(
        smiles="CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1",
        name="Thiothixene",
        fp_type="ECFP4",
        threshold=1.0,
        rediscovery=True,
    ),
    "troglitazone_rediscovery": lambda: sb.similarity(
        smiles="Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O",
        name="Troglitazone",
        fp_type="ECFP4",
        threshold=1.0,
        rediscovery=True,
    ),
    "valsartan_smarts": sb.valsartan_smarts,
    "zaleplon_mpo": sb.zaleplon_with_other_formula,
}
import gzip
import json

import numpy as np

smiles = open(sys.argv[1]).read().split("\n")[:-1]
rows = sorted(int(r) for r in np.random.default_rng(0).choice(len(smiles), 1000, replace=False))
chosen = [smiles[i] for i in rows]
out = {
    "source": "guacamol 0.5.5 scoring functions (tests/reference/make_pmo_reference.py)",
    "zinc250k_lines": [r + 1 for r in rows],
    "scores": {},
}
for name, make in G.items():
    started = time.time()
    out["scores"][name] = [round(float(v), 9) for v in make().objective.score_list(chosen)]
    print(name, round(time.time() - started, 1), file=sys.stderr)
with gzip.open(sys.argv[2], "wt") as handle:
    json.dump(out, handle)
