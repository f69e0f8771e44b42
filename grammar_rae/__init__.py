"""grammar-rae: grammar-constrained generative models of SMILES and arithmetic expressions.

``Grammar``, ``Parser`` and ``Tokenizer`` need no torch; ``train`` and ``TrainedModel`` need it.
All are imported on first use, so that ``import grammar_rae`` (and ``grammar-rae --help``)
stays light. Messages and progress bars go through ``logging`` (logger ``grammar_rae``), silent
until the application sets a level: ``logging.basicConfig(level=logging.INFO)`` shows them.
"""

import logging

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["Grammar", "Parser", "Tokenizer", "TrainedModel", "train"]
__version__ = "0.1.0"

_HOMES = {
    "Grammar": "grammar_rae.grammar",
    "Parser": "grammar_rae.grammar",
    "Tokenizer": "grammar_rae.grammar",
    "train": "grammar_rae.training",
    "TrainedModel": "grammar_rae.generation.trained",
}


def __getattr__(name: str):
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'grammar_rae' has no attribute {name!r}")
