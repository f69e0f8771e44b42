"""grammar-rae: grammar-constrained generative models of SMILES and arithmetic expressions."""

from grammar_rae.grammar import Grammar, Parser, Tokenizer

__all__ = ["Grammar", "Parser", "Tokenizer"]
__version__ = "0.1.0"
