"""Grammars, tokenizers, the exact fast parser and the sequence codec (no torch here)."""

from grammar_rae.grammar.cfg import Grammar, builtin_grammars
from grammar_rae.grammar.parser import Parser
from grammar_rae.grammar.tokenizer import Tokenizer

__all__ = ["Grammar", "Parser", "Tokenizer", "builtin_grammars"]
