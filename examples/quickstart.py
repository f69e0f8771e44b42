"""grammar-rae from Python: the shipped models, no data to prepare and no network needed.

    python examples/quickstart.py

Samples molecules from the shipped GrammarRAE and says how many are valid, encodes molecules and
decodes them back (the encoder's codes with beam search; codes refined until greedy decoding gives
each molecule back, a few CPU-seconds each), walks the latent line between two molecules, scores strings
with penalized logP, and runs a small Bayesian optimisation of the expression model, started from
100 points of the model's ex-post density (as `grammar-rae optimize` starts). BO files go to the
shipped model's work folder in the user cache.
"""

from grammar_rae import TrainedModel
from grammar_rae.data import canonical_smiles, valid_mask
from grammar_rae.generation import interpolate, sample
from grammar_rae.objectives import get_objective
from grammar_rae.optimization import BOSettings, SurrogateSettings, optimize


def main() -> dict:
    """Run each step, print what it gives, and return the figures (the tests check them)."""
    molecules = TrainedModel.load("pretrained:zinc-grae")  # autoregressive decoder, SMILES constraints on

    # 1. Sample (the kernel density on the training codes, greedy decoding); validity is RDKit's verdict.
    drawn = sample(molecules, 200, seed=0)
    valid = valid_mask("smiles", drawn.strings)
    print(
        f"sampled 200 molecules, {int(valid.sum())} valid, e.g. {[s for s, ok in zip(drawn.strings, valid) if ok][:3]}"
    )

    # 2. Encode molecules to latent codes and decode them back: the encoder's codes by beam search (5
    #    hypotheses), then refined codes greedily.
    inputs = ["CCOC(=O)c1ccccc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "CN1CCC[C@H]1c1cccnc1"]
    codes, errors = molecules.encode(inputs)  # the encoder's codes, at once
    decoded = molecules.decode(codes, mode="beam", beam=5)
    refined, back, errors = molecules.encode_refined(inputs)  # codes moved until greedy decoding gives each back
    greedy = molecules.decode(refined, mode="argmax")
    print(f"codes of shape {codes.shape}; decoded back from the encoder's codes, then from the refined codes:")
    for text, *outputs in zip(inputs, decoded, greedy):
        for output in outputs:
            same = output is not None and canonical_smiles(output) == canonical_smiles(text)  # the model writes Kekulé
            print(f"  {text} -> {output}  ({'the same molecule' if same else 'a different molecule'})")

    # 3. Interpolate between two molecules in latent space.
    path = interpolate(molecules, inputs[0], inputs[1], steps=5)
    path_valid = valid_mask("smiles", [text for _, text in path])
    for (t, text), ok in zip(path, path_valid):
        print(f"  t={t:.2f}  {text}  {'valid' if ok else 'INVALID'}")

    # 4. Score strings: penalized logP (higher is better); an invalid string gets the objective's worst score.
    plogp = get_objective("penalized-logp")
    scores = plogp(inputs + ["C1CC"])  # the last one leaves its ring open
    print(f"penalized logP: {[round(float(s), 3) for s in scores]} (worst: {plogp.worst})")

    # 5. A small latent BO of the expression model on the expression-fit objective (lower is better).
    expressions = TrainedModel.load("pretrained:expr-grae")
    small = BOSettings(
        iterations=2, batch=5, attempts=5, restarts=2, surrogate=SurrogateSettings(inducing=50, epochs=2, warm_epochs=1)
    )
    result = optimize(expressions, get_objective("expr-fit"), seeds=[1], settings=small, baseline=False)
    best = result["bo"]["top"][0] if result["bo"]["top"] else None
    print(f"BO: fraction valid {result['bo']['fraction_valid']['mean']:.2f}, best {best}")
    return {
        "valid": valid,
        "decoded": decoded,
        "greedy": greedy,
        "back": back,
        "errors": errors,
        "path": path,
        "scores": scores,
        "bo": result,
    }


if __name__ == "__main__":
    main()
