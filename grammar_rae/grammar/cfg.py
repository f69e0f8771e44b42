"""Context-free grammars loaded from the files in ``grammars/`` and the tables derived from them.

A grammar file is plain ``nltk.CFG`` text. Header comments of the form ``# @key: value`` carry
the settings that belong to the grammar rather than to code: the start symbol, the padding
nonterminal, the default maximum sequence length and the token separator used when a
sequence is turned back into a string. The 0-based position of a production in the file is
its index everywhere in grammar-rae.

nltk reads the file; what it read is cached (``grammars/`` in the user cache, keyed by the
text's sha256 and nltk's version) as plain productions (``symbols.py``), so that loading a
grammar does not import nltk, which takes seconds. ``Grammar.cfg`` builds the ``nltk.CFG``
when something asks for it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from pathlib import Path

import numpy as np

from grammar_rae.errors import GrammarError
from grammar_rae.files import write_atomic
from grammar_rae.grammar.symbols import Nonterminal, Production, from_nltk
from grammar_rae.resources import cache_dir, shipped

_META_RE = re.compile(r"^#\s*@(\w+)\s*:\s*(.*?)\s*$")
_REQUIRED_META = ("name", "start", "padding", "max_length", "separator")


_DOMAIN_OF: dict[str, str] = {}  # grammar name -> the language its header names, for every grammar loaded


def grammar_domain(name: str) -> str:
    """The language (``@domain``) of the grammar called ``name``: a shipped one, or one loaded before."""
    if name not in _DOMAIN_OF and name in builtin_grammars():
        Grammar.load(name)
    return _DOMAIN_OF.get(name, "strings")


def builtin_grammars() -> list[str]:
    """Names of the grammars shipped with the package (``smiles``, ``expr``)."""
    folder = shipped("grammar_rae.grammars")
    return sorted(p.name[: -len(".cfg")] for p in folder.iterdir() if p.name.endswith(".cfg"))


def _read_grammar_text(name_or_path: str | Path) -> str:
    text_path = Path(name_or_path)
    if str(name_or_path) in builtin_grammars():
        return (shipped("grammar_rae.grammars") / f"{name_or_path}.cfg").read_text()
    if text_path.is_file():
        try:
            return text_path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise GrammarError(f"Cannot read grammar file {text_path}: {exc}.") from exc
    raise GrammarError(
        f"Unknown grammar '{name_or_path}': use one of {', '.join(builtin_grammars())} or the path of a .cfg file."
    )


def _parse_meta(text: str) -> dict[str, str]:
    meta = {}
    for line in text.splitlines():
        match = _META_RE.match(line)
        if match:
            meta[match.group(1)] = match.group(2)
    missing = [key for key in _REQUIRED_META if key not in meta]
    if missing:
        raise GrammarError(f"Grammar file lacks the header line(s) {', '.join('# @' + k + ': ...' for k in missing)}.")
    try:
        meta["separator"] = json.loads(meta["separator"])
        meta["max_length"] = int(meta["max_length"])
    except (ValueError, TypeError) as exc:
        raise GrammarError(f"Bad grammar header value: {exc}.") from exc
    if meta["max_length"] < 1:
        raise GrammarError(f"The grammar's @max_length must be a whole number of at least 1, not {meta['max_length']}.")
    if not isinstance(meta["separator"], str):
        raise GrammarError(f'The grammar\'s @separator must be a JSON string such as " ", not {meta["separator"]!r}.')
    return meta


def _read_productions(text: str, origin: str) -> list[Production]:
    """The productions nltk reads from ``text``, from the cache when it read them before."""
    version = metadata.version("nltk")
    cached = cache_dir() / "grammars" / f"{hashlib.sha256(text.encode()).hexdigest()}-nltk{version}.json"
    try:
        return [Production.from_record(r) for r in json.loads(cached.read_text())]
    except (OSError, ValueError, TypeError):
        pass  # not cached yet (or unreadable): read it with nltk
    import nltk

    try:
        productions = [from_nltk(p) for p in nltk.CFG.fromstring(text).productions()]
    except ValueError as exc:
        raise GrammarError(f"Grammar {origin} is not valid nltk CFG text: {exc}.") from exc
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        records = json.dumps([p.to_record() for p in productions])
        write_atomic(cached, lambda out: out.write(records.encode()))
    except OSError:
        pass  # a read-only cache only costs the next load the same time
    return productions


@dataclass(frozen=True, eq=False)
class Grammar:
    """A CFG with the derived tables that parsing, encoding and masked decoding need.

    Attributes:
        name: short name (``smiles``, ``expr``).
        productions: all productions in file order; the position is the production's index.
        start: the start symbol (named by the header, not the first line).
        max_length: default length of padded production sequences.
        separator: text put between tokens when a sequence becomes a string.
        padding_rule: index of the padding production (``Nothing -> None``).
    """

    name: str
    productions: tuple[Production, ...]
    start: Nonterminal
    max_length: int
    separator: str
    padding_rule: int
    source_text: str = field(repr=False)
    domain: str = "strings"  # the language (``@domain``), see grammar_rae.data.domains

    @classmethod
    def load(cls, name_or_path: str | Path = "smiles") -> Grammar:
        """Load a shipped grammar by name or any grammar file by path."""
        return cls.from_text(_read_grammar_text(name_or_path), str(name_or_path))

    @classmethod
    def from_text(cls, text: str, origin: str = "<text>") -> Grammar:
        """Build a grammar from the text of a grammar file (``origin`` names it in errors)."""
        meta = _parse_meta(text)
        productions = tuple(_read_productions(text, origin))
        start, pad = Nonterminal(meta["start"]), Nonterminal(meta["padding"])
        padding = [i for i, p in enumerate(productions) if p.lhs() == pad]
        if len(padding) != 1:
            raise GrammarError(f"The padding nonterminal {meta['padding']} must have exactly one production.")
        if not any(p.lhs() == start for p in productions):
            raise GrammarError(f"The start symbol {start} has no production.")
        domain = meta.get("domain", "strings")
        _DOMAIN_OF[meta["name"]] = domain
        return cls(meta["name"], productions, start, meta["max_length"], meta["separator"], padding[0], text, domain)

    @cached_property
    def cfg(self):
        """The ``nltk.CFG`` of the file, with the header's start symbol (imports nltk)."""
        import nltk

        return nltk.CFG(nltk.Nonterminal(self.start.symbol()), nltk.CFG.fromstring(self.source_text).productions())

    # ----- basic views ------------------------------------------------------------------
    @property
    def n_rules(self) -> int:
        """Number of productions (the width of a one-hot step)."""
        return len(self.productions)

    @cached_property
    def hash(self) -> str:
        """A digest of the productions and settings; caches and checkpoints are keyed by it."""
        payload = json.dumps(
            {
                "productions": [str(p) for p in self.productions],
                "start": str(self.start),
                "padding_rule": self.padding_rule,
                "max_length": self.max_length,
                "separator": self.separator,
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    @cached_property
    def production_index(self) -> dict[Production, int]:
        """Production → index."""
        return {p: i for i, p in enumerate(self.productions)}

    @cached_property
    def terminals(self) -> tuple[str, ...]:
        """All terminal strings of the grammar, in first-appearance order."""
        seen: dict[str, None] = {}
        for p in self.productions:
            for sym in p.rhs():
                if isinstance(sym, str):
                    seen.setdefault(sym)
        return tuple(seen)

    # ----- derived tables ---------------------------------------------------------------
    @cached_property
    def lhs_list(self) -> list[Nonterminal]:
        """The distinct left-hand sides, in first-appearance order."""
        return list(dict.fromkeys(p.lhs() for p in self.productions))

    @cached_property
    def lhs_index(self) -> dict[Nonterminal, int]:
        """Left-hand side → its position in :attr:`lhs_list`."""
        return {lhs: i for i, lhs in enumerate(self.lhs_list)}

    @cached_property
    def rule_lhs(self) -> np.ndarray:
        """Production index → index of its left-hand side, shape (n_rules,)."""
        return np.array([self.lhs_index[p.lhs()] for p in self.productions], dtype=np.int64)

    @cached_property
    def productive(self) -> np.ndarray:
        """Which productions can derive a terminal string (plus the padding rule).

        Rules that mention a nonterminal without productions (the reference SMILES grammar's
        ``class``) can never complete, so they are masked out of training and generation.
        """
        productive_nts: set[Nonterminal] = set()
        changed = True
        while changed:
            changed = False
            for p in self.productions:
                if p.lhs() not in productive_nts and all(isinstance(s, str) or s in productive_nts for s in p.rhs()):
                    productive_nts.add(p.lhs())
                    changed = True
        flags = np.array([all(isinstance(s, str) or s in productive_nts for s in p.rhs()) for p in self.productions])
        flags[self.padding_rule] = True
        return flags

    @cached_property
    def lhs_mask(self) -> np.ndarray:
        """Left-hand side → allowed productions, boolean (n_lhs, n_rules)."""
        mask = np.zeros((len(self.lhs_list), self.n_rules), dtype=bool)
        mask[self.rule_lhs, np.arange(self.n_rules)] = True
        return mask & self.productive[None, :]

    @cached_property
    def rule_masks(self) -> np.ndarray:
        """Production → mask of the productions sharing its left-hand side, (n_rules, n_rules).

        This is the teacher-forced mask of the masked loss: the true production at a step
        tells which left-hand side was on top of the stack. Each row also allows its own rule,
        so even a target holding an unproductive rule gets a finite loss.
        """
        return self.lhs_mask[self.rule_lhs] | np.eye(self.n_rules, dtype=bool)

    @cached_property
    def rule_rhs_nonterminals(self) -> tuple[tuple[int, ...], ...]:
        """Production → left-hand-side indices of the nonterminals on its right, left to right.

        The padding rule and unproductive rules get an empty tuple: nothing is ever expanded
        after them.
        """
        out = []
        for i, p in enumerate(self.productions):
            if i == self.padding_rule or not self.productive[i]:
                out.append(())
            else:
                out.append(tuple(self.lhs_index[s] for s in p.rhs() if isinstance(s, Nonterminal)))
        return tuple(out)

    @property
    def start_lhs(self) -> int:
        """Index of the start symbol in :attr:`lhs_list`."""
        return self.lhs_index[self.start]

    @property
    def padding_lhs(self) -> int:
        """Index of the padding nonterminal in :attr:`lhs_list` (the 'empty stack' row)."""
        return int(self.rule_lhs[self.padding_rule])

    @property
    def index_dtype(self) -> np.dtype:
        """The smallest signed integer type that holds every production index."""
        return np.dtype(np.int8 if self.n_rules <= 127 else np.int16)

    def __repr__(self) -> str:
        return f"Grammar(name={self.name!r}, n_rules={self.n_rules}, max_length={self.max_length})"
