"""The languages grammar-rae models, and everything that differs between them.

A grammar file names its language in its header (``# @domain: molecules``); a grammar without one
is read as plain ``strings``. A :class:`Domain` holds what the rest of the package asks of a
language, so that no module tests a grammar's name:

- what makes a generated string valid and its canonical form (uniqueness, novelty), and the extra
  check on training strings (RDKit for SMILES);
- the form users' strings are rewritten into before parsing (RDKit's canonical SMILES, aromatic
  or Kekulé as the model was trained), so that every spelling of a molecule is one input;
- the variants of a string that nearest decoding compares besides the decoder's candidates (a
  molecule with its stereo marks inverted: the encoder tells them apart where the decoder guesses);
- how alike a decode is to the string meant (Morgan Tanimoto for molecules, else the same string or
  not), by which a kernel density may keep only training codes that decode faithfully;
- the suffix of sample files, the decodes per BO point, and which reference metrics, sample
  properties and figures apply (``moses``, ``molecules``, ``expressions``: the evaluation, BO
  report and plots dispatch on these names).

A new language is one :func:`register` call and a grammar file naming it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import rdFingerprintGenerator

from grammar_rae.data.expressions import evaluator
from grammar_rae.errors import GrammarRAEError
from grammar_rae.grammar.cfg import Grammar, grammar_domain


def rdkit_reason(smiles: str) -> str | None:
    """None if RDKit can build a molecule from ``smiles``, else why not."""
    RDLogger.DisableLog("rdApp.*")
    return None if Chem.MolFromSmiles(smiles) is not None else "RDKit cannot build a molecule from it"


def read_molecule(smiles: str | None) -> Chem.Mol | None:
    """RDKit's molecule of a SMILES, or None if RDKit cannot read it or it has no atoms."""
    if smiles is None:
        return None
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    return None if mol is None or mol.GetNumAtoms() == 0 else mol


def canonical_smiles(smiles: str | None) -> str | None:
    """RDKit's canonical SMILES, or None if RDKit cannot read it, it has no atoms, or RDKit
    cannot read the canonical SMILES it wrote."""
    mol = read_molecule(smiles)
    if mol is None:
        return None
    text = Chem.MolToSmiles(mol)
    return text if Chem.MolFromSmiles(text) is not None else None


def kekule_smiles(smiles: str) -> str | None:
    """RDKit's canonical SMILES of the molecule written with alternating single and double bonds
    instead of aromatic atoms (``c1ccccc1`` -> ``C1=CC=CC=C1``), or None if RDKit cannot read it."""
    mol = read_molecule(smiles)
    if mol is None:
        return None
    Chem.Kekulize(mol, clearAromaticFlags=True)
    return Chem.MolToSmiles(mol, kekuleSmiles=True)


def stereoisomers(smiles: str, limit: int = 5) -> list[str]:
    """Canonical SMILES of the molecule with each of its marked tetrahedral centres (``@``/``@@``)
    kept or inverted, every combination over the first ``limit`` marks (the molecule as written
    first; none if RDKit cannot read it): the variants among which a decoder that writes the marks
    at chance, as ours do (docs/latent-space.md), may have missed the one meant."""
    mol = read_molecule(smiles)
    if mol is None:
        return []
    chiral = (Chem.ChiralType.CHI_TETRAHEDRAL_CW, Chem.ChiralType.CHI_TETRAHEDRAL_CCW)
    centres = [atom.GetIdx() for atom in mol.GetAtoms() if atom.GetChiralTag() in chiral][:limit]
    out = []
    for flips in itertools.product((False, True), repeat=len(centres)):
        variant = Chem.Mol(mol)
        for index, flip in zip(centres, flips):
            if flip:
                variant.GetAtomWithIdx(index).InvertChirality()
        out.append(Chem.MolToSmiles(variant))
    return list(dict.fromkeys(out))


def morgan_similarity(a: str | None, b: str | None) -> float:
    """Tanimoto similarity of two SMILES' Morgan fingerprints (radius 2, 2,048 bits): 1 for the same
    molecule, 0 where either is no molecule."""
    first, second = read_molecule(a), read_molecule(b)
    if first is None or second is None:
        return 0.0
    generator = _morgan_generator()
    return DataStructs.TanimotoSimilarity(generator.GetFingerprint(first), generator.GetFingerprint(second))


@functools.cache
def _morgan_generator() -> rdFingerprintGenerator.FingerprintGenerator64:
    """One Morgan generator (radius 2, 2,048 bits) for every comparison: fitting a faithful kernel
    compares tens of thousands of pairs."""
    return rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def canonical_expression(text: str | None) -> str | None:
    """The expression itself if it is valid (tokens already space-separated), else None."""
    return text if text is not None and evaluator().finite(text) else None


def _itself(text: str | None) -> str | None:
    return text


def _same(a: str | None, b: str | None) -> float:
    return float(a is not None and a == b)


@dataclass(frozen=True)
class Domain:
    """One language: its validity, input forms and what evaluation and BO do with its strings."""

    name: str
    canonical: Callable[[str | None], str | None] = _itself  # a valid string's canonical form; None when invalid
    check: Callable[[str], str | None] | None = None  # why a training string is no member (beyond the grammar)
    user_form: Callable[[str], str | None] | None = None  # how users' strings are rewritten (None: read as written)
    kekule_form: Callable[[str], str | None] | None = None  # the Kekulé form, for languages that have one
    suffix: str = ".txt"  # of sample files
    bo_decodes: int = 25  # decodes per BO point by default (the most frequent valid one is scored)
    reference_metrics: str | None = None  # "moses": the MOSES metrics against a reference set
    properties: str | None = None  # "molecules" (logP, SA, QED, ...) or "expressions" (fit to the target)
    figures: str | None = None  # "molecules" (grids, property histograms) or "expressions" (curves)
    form_words: tuple[str, str] = ("", "")  # what the user form and the Kekulé form are called
    variants: Callable[[str], list[str]] | None = None  # strings a decoder cannot tell apart from a valid one
    similarity: Callable[[str | None, str | None], float] = _same  # of a decode to the string meant, 0 to 1
    faithful: float = 0.0  # the similarity a kernel density's codes decode to by default (0: every code)

    def input_form(self, kekule: bool = False) -> Callable[[str], str | None] | None:
        """How a user's string is rewritten into the form of a model's training strings (Kekulé
        or not) before it is parsed; None for languages read as written."""
        return self.kekule_form if kekule else self.user_form

    def form_name(self, kekule: bool) -> str:
        """What the input form is called ("aromatic SMILES"; "" when strings are read as written)."""
        return "" if self.input_form(kekule) is None else self.form_words[kekule]

    def input_form_name(self, kekule: bool) -> str:
        """The words for the input form in messages ("canonical Kekulé SMILES"; "" when read as written)."""
        name = self.form_name(kekule)
        return f"canonical {name}" if name else ""


DOMAINS: dict[str, Domain] = {}


def register(domain: Domain) -> Domain:
    """Make a language known by its name (what grammar headers say in ``@domain``)."""
    DOMAINS[domain.name] = domain
    return domain


register(
    Domain(
        "molecules",
        canonical=canonical_smiles,
        check=rdkit_reason,
        user_form=canonical_smiles,
        kekule_form=kekule_smiles,
        suffix=".smi",
        bo_decodes=500,
        reference_metrics="moses",
        properties="molecules",
        figures="molecules",
        form_words=("aromatic SMILES", "Kekulé SMILES"),
        variants=stereoisomers,
        similarity=morgan_similarity,
        faithful=0.4,  # FCD 1.43 -> 1.00 and SA W1 0.35 -> 0.11 on ZINC (docs/latent-space.md)
    )
)
register(Domain("expressions", canonical=canonical_expression, properties="expressions", figures="expressions"))
register(Domain("strings"))


def domain_of(grammar: Grammar | str) -> Domain:
    """The language of a grammar (or of a loaded grammar's name)."""
    name = grammar.domain if isinstance(grammar, Grammar) else grammar_domain(grammar)
    if name not in DOMAINS:
        raise GrammarRAEError(
            f"The grammar names the language {name!r}, which grammar-rae does not know: "
            f"register it (grammar_rae.data.domains.register) or use one of {', '.join(DOMAINS)}."
        )
    return DOMAINS[name]
