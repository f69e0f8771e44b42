"""grammar-rae: grammar-constrained generative models of SMILES and arithmetic expressions.

``Grammar``, ``Parser`` and ``Tokenizer`` need no torch; ``train`` and ``TrainedModel`` are
imported on first use so that grammar-only work stays light.
"""

from grammar_rae.grammar import Grammar, Parser, Tokenizer

__all__ = ["Grammar", "Parser", "Tokenizer", "TrainedModel", "train"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "train":
        from grammar_rae.training import train

        return train
    if name == "TrainedModel":
        from grammar_rae.generation.trained import TrainedModel

        return TrainedModel
    raise AttributeError(f"module 'grammar_rae' has no attribute {name!r}")
