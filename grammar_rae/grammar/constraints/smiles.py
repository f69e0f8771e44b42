"""SMILES semantic constraints: ring-bond bookkeeping and valence budgets.

Why hand-written: no library judges a *partial* leftmost derivation. RDKit only reads whole
SMILES, and a grammar-masked decoder has to know at every step which productions can still lead
to a molecule. This module follows each row's derivation symbol by symbol (a stack of all
symbols, terminals included, so the SMILES prefix emitted so far is known exactly) and keeps
what that prefix has committed to:

- **Rings.** A ring digit opens a new ring or closes an open one; a ring cannot close onto the
  atom that opened it, onto an atom already bonded to the closing atom, or twice between the same
  two atoms. When nothing that can still produce an atom is left on the stack, open rings must be
  closed by the atom being derived: it cannot end without ring bonds (or branches that carry
  the rings on), cannot open new rings, and must close each open one.
- **Valence.** Each atom has a budget (``grammars/smiles.constraints.json``). The leftmost
  derivation commits to bonds before it says what they are: ``branched_atom -> atom RB BB``
  promises at least one ring bond and one branch, a following chain atom promises a bond to the
  successor, ``RB -> RB ringbond`` one more ring bond. Each promise reserves one unit of the
  atom's budget until its bond is written, and then its order is charged. Bond orders, elements,
  extra ring bonds and branches, hydrogen counts and charges in brackets are only allowed while
  what was used and reserved fits the element's valence for its charge (and, for aromatic atoms,
  its number of neighbours). A bracket atom has no implicit hydrogens, so its element, hydrogen
  count and charge must be able to bring its bonds exactly to one of its valences (no radical such
  as ``[CH]``). Once its bracket is closed, every later choice that fixes part of its bonds (the
  number of ring bonds or branches, a bond's order, a branch written without a bond, a ring
  closed onto it) must leave the bonds still open to a choice of order (each may add up to two)
  able to land on one of those valences. A bracket aromatic atom has the neighbour limit of the
  unbracketed one.

The length limit (``max_length``) is not part of the constraints; a derivation the constraints
keep extending can still run out of steps. The module needs the nonterminals of the reference
SMILES grammar (``chain``, ``branched_atom``, ``RB``, ``BB``, ``ringbond``, ``DIGIT``, ``bond``
...), whatever the order of its productions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from grammar_rae.errors import GrammarError
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.grammar.symbols import Nonterminal
from grammar_rae.resources import shipped

_BOND_ORDERS = {"-": 1, "=": 2, "#": 3, "/": 1, "\\": 1}
_PRODUCERS = ("branched_atom", "chain", "BB", "branch")  # nonterminals that derive at least one atom
_NEEDED = (
    "branched_atom",
    "atom",
    "aliphatic_organic",
    "aromatic_organic",
    "RB",
    "BB",
    "ringbond",
    "DIGIT",
    "bond",
    "hcount",
    "BAC",
    "BAH",
    "BACH",
    "charge",
)
_UNLIMITED = 99  # no limit: a bracket atom's budget before its element is read, or a slack that cannot run out
_MAX_H = 8  # the most hydrogens a bracket can write ('H8')
PARTS = ("rings", "valences")  # the two kinds of constraint; measuring one without the other needs them apart


@lru_cache(maxsize=1)
def valence_table() -> dict:
    """The contents of ``grammars/smiles.constraints.json``."""
    return json.loads((shipped("grammar_rae.grammars") / "smiles.constraints.json").read_text())


def _highest(valences: np.ndarray) -> np.ndarray:
    """The largest valence in each bit set (-1 for an empty set)."""
    out = np.full(np.shape(valences), -1, dtype=np.int64)
    for v in range(16):
        out = np.where((np.asarray(valences) >> v) & 1, v, out)
    return out


def _reachable(need: np.ndarray, valences: np.ndarray, low: int, high: np.ndarray | int) -> np.ndarray:
    """Whether adding between ``low`` and ``high`` hydrogens to ``need`` lands on a valence of the set."""
    span = np.maximum(np.asarray(high) - low + 1, 0)
    return ((np.asarray(valences) >> np.clip(need + low, 0, 62)) & ((1 << span) - 1)) != 0


@dataclass(frozen=True)
class _Tables:
    """What the constraints need to know about the grammar, as arrays indexed by rule or symbol."""

    n_lhs: int
    sentinel: int  # symbol id below every stack (never a producer or a bond)
    push: np.ndarray  # (R, P) right-hand side symbols in reverse (terminal t has id n_lhs + t)
    push_length: np.ndarray  # (R,)
    producer: np.ndarray  # (S,) symbol derives at least one atom
    rule_producers: np.ndarray  # (R,) producer symbols a rule pushes
    rule_ringbonds: np.ndarray  # (R,) ``ringbond`` symbols a rule pushes
    lhs: dict  # nonterminal name -> id
    rules: dict  # name -> rule index (branched_atom forms, RB/BB more/last, atom kinds, hcount forms)
    element_rules: np.ndarray  # rules lhs -> one element terminal
    element_organic: np.ndarray  # (R,) valence of that element written without a bracket
    element_degree: np.ndarray  # (R,) neighbours it may have without a bracket
    element_bracket: np.ndarray  # (R, 3) valences inside a bracket (bit v set: valence v), no charge, +1, -1
    element_bracket_degree: np.ndarray  # (R,) neighbours it may have inside a bracket (aromatic: as outside)
    digit_rules: np.ndarray  # the DIGIT rules, digit value d at position d - 1
    bond_order: np.ndarray  # (R,) order of a bond rule, else 0
    token: dict  # terminal text -> terminal id (without the n_lhs offset)
    token_organic: np.ndarray  # (T,) valence of an element token outside brackets (0: not an element)
    token_degree: np.ndarray  # (T,)
    token_bracket: np.ndarray  # (T, 3) valences of an element token inside a bracket, as bits like element_bracket
    token_bracket_degree: np.ndarray  # (T,)
    token_digit: np.ndarray  # (T,) digit value or 0
    token_order: np.ndarray  # (T,) bond order or 0
    max_organic: int
    max_aromatic: int
    max_aromatic_degree: int
    max_bracket: int
    ring_digits: int


def _rule(grammar: Grammar, lhs: str, rhs: tuple) -> int:
    wanted = tuple(Nonterminal(s) if not s.startswith("'") else s.strip("'") for s in rhs)
    for i, p in enumerate(grammar.productions):
        if str(p.lhs()) == lhs and tuple(p.rhs()) == wanted:
            return i
    raise GrammarError(
        f"The SMILES constraints need the production {lhs} -> {' '.join(rhs)}, which the {grammar.name} grammar lacks."
    )


@lru_cache(maxsize=4)
def _tables_for(grammar: Grammar) -> _Tables:
    names = {str(lhs): i for i, lhs in enumerate(grammar.lhs_list)}
    missing = [n for n in _NEEDED if n not in names]
    if missing:
        raise GrammarError(
            f"The SMILES constraints need the nonterminals {', '.join(missing)}, which the grammar lacks."
        )
    n_lhs, terminals = len(grammar.lhs_list), grammar.terminals
    token = {t: i for i, t in enumerate(terminals)}
    ids = lambda sym: names[str(sym)] if isinstance(sym, Nonterminal) else n_lhs + token[sym]  # noqa: E731
    usable = grammar.productive.copy()
    usable[grammar.padding_rule] = False  # neither the padding rule nor unproductive rules are ever expanded
    rhs = [[ids(s) for s in reversed(p.rhs())] if usable[i] else [] for i, p in enumerate(grammar.productions)]
    width = max(len(r) for r in rhs)
    push = np.zeros((grammar.n_rules, width), dtype=np.int16)
    for i, r in enumerate(rhs):
        push[i, : len(r)] = r
    sentinel = names[str(grammar.productions[grammar.padding_rule].lhs())]
    producer = np.zeros(n_lhs + len(terminals), dtype=bool)
    producer[[names[n] for n in _PRODUCERS]] = True
    table = valence_table()
    aromatic = table["aromatic"]
    organic_of = {**table["organic"], **{k: v["valence"] for k, v in aromatic.items()}}
    degree_of = {**table["organic"], **{k: v["degree"] for k, v in aromatic.items()}}

    charged = {e: [sum(1 << n for n in v.get(q, [])) for q in ("0", "+", "-")] for e, v in table["bracket"].items()}
    bracket_degree_of = {e: degree_of[e] if e in aromatic else _UNLIMITED for e in organic_of}
    element_rules = []
    organic, degree = np.zeros(grammar.n_rules, np.int16), np.zeros(grammar.n_rules, np.int16)
    bracket = np.zeros((grammar.n_rules, 3), dtype=np.int64)
    bracket_degree = np.zeros(grammar.n_rules, np.int16)
    for i, p in enumerate(grammar.productions):
        if (
            str(p.lhs()) in ("aliphatic_organic", "aromatic_organic")
            and len(p.rhs()) == 1
            and isinstance(p.rhs()[0], str)
        ):
            element = p.rhs()[0]
            element_rules.append(i)
            organic[i], degree[i] = organic_of[element], degree_of[element]
            bracket[i], bracket_degree[i] = charged[element], bracket_degree_of[element]
    token_organic, token_degree = np.zeros(len(terminals), np.int16), np.zeros(len(terminals), np.int16)
    token_bracket = np.zeros((len(terminals), 3), dtype=np.int64)
    token_bracket_degree = np.zeros(len(terminals), np.int16)
    for element, i in token.items():
        if element in organic_of:
            token_organic[i], token_degree[i], token_bracket[i] = (
                organic_of[element],
                degree_of[element],
                charged[element],
            )
            token_bracket_degree[i] = bracket_degree_of[element]
    token_digit = np.array([int(t) if t.isdigit() else 0 for t in terminals], dtype=np.int16)
    token_order = np.array([_BOND_ORDERS.get(t, 0) for t in terminals], dtype=np.int16)
    bond_order = np.zeros(grammar.n_rules, dtype=np.int16)
    for i, p in enumerate(grammar.productions):
        if str(p.lhs()) == "bond":
            bond_order[i] = _BOND_ORDERS[p.rhs()[0]]
    ring_digits = table["max_ring_digits"]
    digit_rules = np.array([_rule(grammar, "DIGIT", (f"'{d}'",)) for d in range(1, ring_digits + 1)])
    rules = {
        "ba": _rule(grammar, "branched_atom", ("atom",)),
        "ba_rb": _rule(grammar, "branched_atom", ("atom", "RB")),
        "ba_bb": _rule(grammar, "branched_atom", ("atom", "BB")),
        "ba_rb_bb": _rule(grammar, "branched_atom", ("atom", "RB", "BB")),
        "rb_more": _rule(grammar, "RB", ("RB", "ringbond")),
        "rb_last": _rule(grammar, "RB", ("ringbond",)),
        "bb_more": _rule(grammar, "BB", ("BB", "branch")),
        "bb_last": _rule(grammar, "BB", ("branch",)),
        "branch_plain": _rule(grammar, "branch", ("'('", "chain", "')'")),
        "ringbond_plain": _rule(grammar, "ringbond", ("DIGIT",)),
        "symbol_aromatic": _rule(grammar, "symbol", ("aromatic_organic",)),
        "atom_bracket": _rule(grammar, "atom", ("bracket_atom",)),
        "atom_aliphatic": _rule(grammar, "atom", ("aliphatic_organic",)),
        "atom_aromatic": _rule(grammar, "atom", ("aromatic_organic",)),
        "h1": _rule(grammar, "hcount", ("'H'",)),
        "h_digit": _rule(grammar, "hcount", ("'H'", "DIGIT")),
        "chiral_only": _rule(grammar, "BAC", ("chiral",)),
        "chiral_more": _rule(grammar, "BAC", ("chiral", "BAH")),
        "no_chiral": _rule(grammar, "BAC", ("BAH",)),
        "hcount_only": _rule(grammar, "BAH", ("hcount",)),
        "hcount_more": _rule(grammar, "BAH", ("hcount", "BACH")),
        "no_hcount": _rule(grammar, "BAH", ("BACH",)),
        "plus": _rule(grammar, "charge", ("'+'",)),
        "minus": _rule(grammar, "charge", ("'-'",)),
        "plus_digit": _rule(grammar, "charge", ("'+'", "DIGIT")),
        "minus_digit": _rule(grammar, "charge", ("'-'", "DIGIT")),
        "plus_digits": _rule(grammar, "charge", ("'+'", "DIGIT", "DIGIT")),
        "minus_digits": _rule(grammar, "charge", ("'-'", "DIGIT", "DIGIT")),
    }
    return _Tables(
        n_lhs=n_lhs,
        sentinel=sentinel,
        push=push,
        push_length=np.array([len(r) for r in rhs], dtype=np.int16),
        producer=producer,
        rule_producers=np.array([producer[r].sum() for r in rhs], dtype=np.int16),
        rule_ringbonds=np.array([sum(s == names["ringbond"] for s in r) for r in rhs], dtype=np.int16),
        lhs=names,
        rules=rules,
        element_rules=np.array(element_rules),
        element_organic=organic,
        element_degree=degree,
        element_bracket=bracket,
        element_bracket_degree=bracket_degree,
        digit_rules=digit_rules,
        bond_order=bond_order,
        token=token,
        token_organic=token_organic,
        token_degree=token_degree,
        token_bracket=token_bracket,
        token_bracket_degree=token_bracket_degree,
        token_digit=token_digit,
        token_order=token_order,
        max_organic=max(table["organic"].values()),
        max_aromatic=max(v["valence"] for v in aromatic.values()),
        max_aromatic_degree=max(v["degree"] for v in aromatic.values()),
        max_bracket=int(_highest(bracket).max()),
        ring_digits=ring_digits,
    )


class SmilesConstraints:
    """The state of ``rows`` SMILES derivations, with the masks that keep each one completable."""

    def __init__(self, grammar: Grammar, rows: int, steps: int, parts: tuple[str, ...] = PARTS):
        unknown = set(parts) - set(PARTS)
        if unknown:
            raise GrammarError(f"Unknown SMILES constraint {', '.join(sorted(unknown))}: use {' and '.join(PARTS)}.")
        self.rings, self.valences = "rings" in parts, "valences" in parts
        t = self.t = _tables_for(grammar)
        self.padding_rule = grammar.padding_rule
        atoms = steps // 3 + 2  # every atom takes at least three productions
        depth = steps // 4 + 2
        self.n = rows
        self.stack = np.full((rows, 2 + steps * t.push.shape[1]), t.sentinel, dtype=np.int16)
        self.stack[:, 1] = t.lhs[str(grammar.start)]
        self.pointer = np.full(rows, 2, dtype=np.int64)  # entries in use; entry 0 is the sentinel
        self.producers = np.zeros(rows, dtype=np.int16)
        self.ringbonds = np.zeros(rows, dtype=np.int16)  # ``ringbond`` symbols on the stack
        self.in_bracket = np.zeros(rows, dtype=bool)
        self.bracket_element = np.zeros(rows, dtype=np.int64)  # element token of the bracket atom being read
        self.charge = np.zeros(rows, dtype=np.int64)  # its charge so far: 0, 1 (+) or 2 (-), a column of token_bracket
        self.last_token = np.full(rows, -1, dtype=np.int16)
        self.atoms = np.zeros(rows, dtype=np.int64)
        self.cur = np.full(rows, -1, dtype=np.int64)  # the atom ring bonds, branches and bonds attach to
        self.pending = np.zeros(rows, dtype=np.int16)  # order of a bond symbol waiting for its atom or ring digit
        self.next_reserve = np.zeros(rows, dtype=np.int16)  # bonds promised by the branched_atom being derived
        self.next_forced = np.zeros(rows, dtype=np.int16)  # ring closures beyond the first it must make (a last atom)
        self.next_rb = np.zeros(rows, dtype=bool)  # it has ring bonds (RB), whose number is still open
        self.next_bb = np.zeros(rows, dtype=bool)  # it has branches (BB), whose number is still open
        self.next_flexible = np.zeros(rows, dtype=np.int16)  # of its promised bonds, those whose order is still open
        self.rb_open = np.zeros(rows, dtype=bool)  # the same for the current atom, until the count is decided
        self.bb_open = np.zeros(rows, dtype=bool)
        self.roots = np.zeros((rows, depth), dtype=np.int64)
        self.depth = np.zeros(rows, dtype=np.int64)
        self.used = np.zeros((rows, atoms), dtype=np.int16)
        self.reserved = np.zeros((rows, atoms), dtype=np.int16)
        self.bonds = np.zeros((rows, atoms), dtype=np.int16)
        self.capacity = np.zeros((rows, atoms), dtype=np.int16)
        self.target = np.zeros((rows, atoms), dtype=np.int64)  # a closed bracket atom's valences (bits); 0: implicit H
        self.flexible = np.zeros((rows, atoms), dtype=np.int16)  # its bonds whose order is still open (each ≤ +2)
        self.degree = np.zeros((rows, atoms), dtype=np.int16)
        self.parent = np.full((rows, atoms), -1, dtype=np.int64)
        self.ring_atom = np.full((rows, t.ring_digits), -1, dtype=np.int64)
        self.ring_order = np.zeros((rows, t.ring_digits), dtype=np.int16)  # order written at the opening (0: none)
        self.ring_paid = np.zeros((rows, t.ring_digits), dtype=np.int16)  # order charged to the opener
        self.partners = np.full((rows, t.ring_digits), -1, dtype=np.int64)  # atoms the current atom closed rings with
        self.partner_count = np.zeros(rows, dtype=np.int64)
        self.producers[:] = t.producer[self.stack[:, 1]]
        self._emit()

    _ARRAYS = (
        "stack",
        "pointer",
        "producers",
        "ringbonds",
        "in_bracket",
        "bracket_element",
        "charge",
        "last_token",
        "atoms",
        "cur",
        "pending",
        "next_reserve",
        "next_forced",
        "next_rb",
        "next_bb",
        "next_flexible",
        "rb_open",
        "bb_open",
        "roots",
        "depth",
        "used",
        "reserved",
        "bonds",
        "capacity",
        "target",
        "flexible",
        "degree",
        "parent",
        "ring_atom",
        "ring_order",
        "ring_paid",
        "partners",
        "partner_count",
    )

    def select(self, index: np.ndarray) -> None:
        """Keep rows ``index`` (in that order)."""
        for name in self._ARRAYS:
            setattr(self, name, getattr(self, name)[index])
        self.n = len(index)

    # ----- what the current atom can still take -----------------------------------------------
    def _at(self, array: np.ndarray, rows: np.ndarray, atoms: np.ndarray) -> np.ndarray:
        return array[rows, np.maximum(atoms, 0)]

    def _free(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Valence and neighbours the current atom of each row still has unpromised."""
        c = self.cur[rows]
        reserved = self._at(self.reserved, rows, c)
        valence = self._at(self.capacity, rows, c) - self._at(self.used, rows, c) - reserved
        return valence, self._at(self.degree, rows, c) - self._at(self.bonds, rows, c) - reserved

    def _continues_chain(self, symbols: np.ndarray) -> np.ndarray:
        """Whether the symbols that follow a ``branched_atom`` on the stack give it a successor in its chain."""
        return (symbols == self.t.lhs["bond"]) | (symbols == self.t.lhs["branched_atom"])

    def _open_rings(self, rows: np.ndarray) -> np.ndarray:
        """How many rings each row has open."""
        return (self.ring_atom[rows] >= 0).sum(axis=1)

    def _incoming(self, rows: np.ndarray) -> np.ndarray:
        """Order of the bond the next atom receives (0 for the first atom)."""
        return np.where(self.cur[rows] >= 0, np.where(self.pending[rows] > 0, self.pending[rows], 1), 0)

    def _closable(self, rows: np.ndarray, excluded: tuple[np.ndarray, ...], partners: bool = True) -> np.ndarray:
        """(n, digits) open rings whose opener is none of ``excluded`` and (with ``partners``) no
        atom the current atom has closed a ring with already."""
        openers = self.ring_atom[rows]
        ok = openers >= 0
        for atoms in excluded:
            ok &= openers != atoms[:, None]
        return ok & ~(openers[:, :, None] == self.partners[rows][:, None, :]).any(axis=2) if partners else ok

    def _distinct(self, rows: np.ndarray, closable: np.ndarray) -> np.ndarray:
        """How many different atoms the closable rings of each row were opened at."""
        openers = np.sort(np.where(closable, self.ring_atom[rows], -1), axis=1)
        return (openers[:, :1] >= 0).sum(axis=1) + ((openers[:, 1:] != openers[:, :-1]) & (openers[:, 1:] >= 0)).sum(
            axis=1
        )

    # ----- masks -----------------------------------------------------------------------------
    def allowed(self, top: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """(N, W) which candidates keep each row's derivation completable."""
        t, ok = self.t, np.ones((self.n, self.t.push.shape[0]), dtype=bool)
        lhs = t.lhs
        masks = [
            ("branched_atom", self._mask_branched_atom),
            ("RB", self._mask_ring_count),
            ("DIGIT", self._mask_digit),
        ]
        if self.valences:
            masks += [
                ("atom", self._mask_atom),
                ("aliphatic_organic", self._mask_element),
                ("aromatic_organic", self._mask_element),
                ("bond", self._mask_bond),
                ("BB", self._mask_branch_count),
                ("hcount", self._mask_hydrogens),
                ("BAC", self._mask_chirality),
                ("BAH", self._mask_hydrogen_count),
                ("charge", self._mask_charge),
                ("branch", self._mask_branch),
                ("ringbond", self._mask_ringbond),
                ("symbol", self._mask_symbol),
            ]
        for name, mask in masks:
            rows = np.flatnonzero(top == lhs[name])
            if rows.size:
                mask(rows, ok)
        return np.take_along_axis(ok, candidates, axis=1)

    def _mask_branched_atom(self, rows: np.ndarray, ok: np.ndarray) -> None:
        t, r = self.t, self.rules
        base = self._incoming(rows) + self._continues_chain(self._below(rows))
        most = max(t.max_organic, t.max_bracket) if self.valences else _UNLIMITED
        ok[rows, r["ba_rb"]] &= base + 1 <= most
        ok[rows, r["ba_bb"]] &= base + 1 <= most
        ok[rows, r["ba_rb_bb"]] &= base + 2 <= most
        if not self.rings:
            return
        future = self.producers[rows] > 1  # producers below this branched_atom
        open_rings = self._open_rings(rows)
        ok[rows, r["ba"]] &= future | (open_rings == 0)
        # Ring bonds but no branch as the last atom: it must close every open ring itself, each
        # opened at a different atom that is not its neighbour.
        closable = self._distinct(rows, self._closable(rows, (self.cur[rows],), partners=False))
        ok[rows, r["ba_rb"]] &= future | ((open_rings > 0) & (closable == open_rings) & (base + open_rings <= most))

    def _mask_atom(self, rows: np.ndarray, ok: np.ndarray) -> None:
        t, r = self.t, self.rules
        need = self._incoming(rows) + self.next_reserve[rows] + self.next_forced[rows] + self._owed(rows)
        neighbours = (self.cur[rows] >= 0) + self.next_reserve[rows] + self.next_forced[rows]
        ok[rows, r["atom_aliphatic"]] &= need <= t.max_organic
        ok[rows, r["atom_aromatic"]] &= (need <= t.max_aromatic) & (neighbours <= t.max_aromatic_degree)
        ok[rows, r["atom_bracket"]] &= need <= t.max_bracket

    def _mask_element(self, rows: np.ndarray, ok: np.ndarray) -> None:
        t, elements = self.t, self.t.element_rules
        bracket = self.in_bracket[rows]
        outside = rows[~bracket]
        promised = self.next_reserve[outside] + self.next_forced[outside]
        need = (self._incoming(outside) + promised + self._owed(outside))[:, None]
        neighbours = ((self.cur[outside] >= 0) + promised)[:, None]
        ok[np.ix_(outside, elements)] &= (need <= t.element_organic[elements]) & (
            neighbours <= t.element_degree[elements]
        )
        inside = rows[bracket]  # the bracket atom exists already: its bonds so far and its promises
        need, valences = self._need(inside)[:, None], t.element_bracket[elements][None, :, :]
        slack = self._slack(inside, aromatic=t.element_bracket_degree[elements][None, :] < _UNLIMITED)
        neutral, charged = valences[..., 0], valences[..., 1] | valences[..., 2]
        more = (self._below(inside) == t.lhs["BAC"])[:, None]  # chirality, hydrogens or a charge may follow
        completable = _reachable(need, neutral, 0, _MAX_H + slack) | _reachable(need, charged, 0, _MAX_H + slack)
        ok[np.ix_(inside, elements)] &= np.where(more, completable, _reachable(need, neutral, 0, slack))
        ok[np.ix_(inside, elements)] &= self._neighbours(inside)[:, None] <= t.element_bracket_degree[elements][None, :]

    def _mask_symbol(self, rows: np.ndarray, ok: np.ndarray) -> None:
        """A bracket atom with more neighbours than an aromatic atom may have is not aromatic."""
        ok[rows, self.rules["symbol_aromatic"]] &= self._neighbours(rows) <= self.t.max_aromatic_degree

    def _neighbours(self, rows: np.ndarray) -> np.ndarray:
        """Neighbours the current atom has and has been promised."""
        return self._at(self.bonds, rows, self.cur[rows]) + self._at(self.reserved, rows, self.cur[rows])

    def _mask_ring_count(self, rows: np.ndarray, ok: np.ndarray) -> None:
        r = self.rules
        planned = self.ringbonds[rows] + 1  # ring bonds promised so far, this RB's included
        future = self.producers[rows] > 0
        c = self.cur[rows]
        open_rings = self._open_rings(rows)
        closable = self._distinct(rows, self._closable(rows, (c, self._at(self.parent, rows, c))))
        openable = np.where(future, self.t.ring_digits - open_rings, 0)
        valence, neighbours = self._free(rows)
        if self.valences:
            ok[rows, r["rb_more"]] &= (valence >= 1) & (neighbours >= 1)
            ok[rows, r["rb_last"]] &= self.bb_open[rows] | self._completes(rows, c, 0, 0)
        if self.rings:
            ok[rows, r["rb_more"]] &= planned + 1 <= closable + openable
            ok[rows, r["rb_last"]] &= planned >= np.where(future, 0, open_rings)

    def _mask_digit(self, rows: np.ndarray, ok: np.ndarray) -> None:
        t = self.t
        inside = rows[self.in_bracket[rows]]
        hydrogens = inside[self.last_token[inside] == t.token["H"]]
        # 'H' DIGIT: the digit is the hydrogen count ('H' itself was charged already)
        if hydrogens.size and self.valences:
            need, target = self._need(hydrogens)[:, None], self._hydrogen_target(hydrogens)[:, None]
            extra = np.arange(t.ring_digits)[None, :]
            ok[np.ix_(hydrogens, t.digit_rules)] &= _reachable(need + extra, target, 0, self._slack(hydrogens)[:, None])
        rows = rows[~self.in_bracket[rows]]
        if rows.size:
            ok[np.ix_(rows, t.digit_rules)] &= self._ring_options(rows, self.pending[rows])

    def _ring_options(self, rows: np.ndarray, pending: np.ndarray) -> np.ndarray:
        """(n, digits) which ring digits the current atom of each row (outside brackets) may write
        next, after a bond of order ``pending`` (0: none written)."""
        c = self.cur[rows]
        pending = pending[:, None]
        openers = self.ring_atom[rows]
        order = np.where(pending > 0, pending, np.where(self.ring_order[rows] > 0, self.ring_order[rows], 1))
        conflict = (pending > 0) & (self.ring_order[rows] > 0) & (self.ring_order[rows] != pending)
        valence, _ = self._free(rows)  # this ring bond's unit is among the reserved ones
        extra = order - self.ring_paid[rows]
        opener_free = (
            self.capacity[rows[:, None], np.maximum(openers, 0)]
            - self.used[rows[:, None], np.maximum(openers, 0)]
            - self.reserved[rows[:, None], np.maximum(openers, 0)]
        )
        future = (self.producers[rows] > 0)[:, None]
        close = self._closable(rows, (c, self._at(self.parent, rows, c))) & ~conflict if self.rings else openers >= 0
        opening = (openers < 0) & future if self.rings else openers < 0
        if self.valences:
            close &= (order - 1 <= valence[:, None]) & (extra <= opener_free)
            opening &= np.where(pending > 0, pending, 1) - 1 <= valence[:, None]
            # exact valences: of the current atom (unless it may still take branches), and of the opener
            free = self.bb_open[rows][:, None]
            cur = np.broadcast_to(c[:, None], openers.shape)
            close &= free | self._completes(rows[:, None], cur, order - 1, (pending == 0).astype(np.int16))
            close &= self._completes(rows[:, None], openers, extra, (self.ring_order[rows] == 0).astype(np.int16))
            opening &= free | self._completes(rows[:, None], cur, np.where(pending > 0, pending - 1, 0), 0)
        return close | opening

    def _mask_bond(self, rows: np.ndarray, ok: np.ndarray) -> None:
        rows = rows[~self.in_bracket[rows]]
        bonds = np.flatnonzero(self.t.bond_order)
        valence, _ = self._free(rows)  # the bond's own unit is reserved already
        orders = self.t.bond_order[bonds][None, :]
        ok[np.ix_(rows, bonds)] &= orders - 1 <= valence[:, None]
        cur = np.broadcast_to(self.cur[rows][:, None], (len(rows), len(bonds)))
        ok[np.ix_(rows, bonds)] &= self._counts_open(rows)[:, None] | self._completes(rows[:, None], cur, orders - 1, 1)
        ring = rows[self._below(rows) == self.t.lhs["DIGIT"]]  # a ring bond's order: some ring digit must take it
        for bond in bonds:
            ok[ring, bond] &= self._ring_options(ring, np.full(len(ring), self.t.bond_order[bond], np.int16)).any(
                axis=1
            )

    def _mask_ringbond(self, rows: np.ndarray, ok: np.ndarray) -> None:
        """A ring bond without a bond symbol needs a ring digit that takes the order it then has."""
        ok[rows, self.rules["ringbond_plain"]] &= self._ring_options(rows, np.zeros(len(rows), np.int16)).any(axis=1)

    def _mask_branch_count(self, rows: np.ndarray, ok: np.ndarray) -> None:
        valence, neighbours = self._free(rows)
        ok[rows, self.rules["bb_more"]] &= (valence >= 1) & (neighbours >= 1)
        ok[rows, self.rules["bb_last"]] &= self.rb_open[rows] | self._completes(rows, self.cur[rows], 0, 0)

    def _mask_branch(self, rows: np.ndarray, ok: np.ndarray) -> None:
        """A branch written without a bond settles its bond's order at one."""
        ok[rows, self.rules["branch_plain"]] &= self._counts_open(rows) | self._completes(rows, self.cur[rows], 0, 1)

    def _counts_open(self, rows: np.ndarray) -> np.ndarray:
        """Whether the current atom may still take more ring bonds or branches."""
        return self.rb_open[rows] | self.bb_open[rows]

    def _completes(self, rows: np.ndarray, atoms: np.ndarray, extra, settled) -> np.ndarray:
        """Whether ``atoms`` (of ``rows``, broadcast together) can still land exactly on one of their
        valences once ``extra`` more valence is used and ``settled`` of their bonds whose order was
        open are settled: each bond still open may add up to two. Atoms without a target (those
        outside brackets, which take implicit hydrogens, and brackets not yet closed) always can."""
        atoms = np.maximum(atoms, 0)
        target = self.target[rows, atoms]
        need = self.used[rows, atoms] + self.reserved[rows, atoms] + extra
        slack = 2 * np.maximum(self.flexible[rows, atoms] - settled, 0)
        current = atoms == self.cur[rows]
        if current.any():  # the current atom's ring bonds may be held back by their openers
            row_index = np.broadcast_to(rows, atoms.shape)[current]
            slack[current] = self._open_valence(
                row_index, np.broadcast_to(settled, atoms.shape)[current], rings_closed=True
            )
        return (target == 0) | _reachable(need, target, 0, slack)

    # Inside brackets the element comes first, then chirality, hydrogens and charge. Each choice
    # must leave a way to land on one of the valences of the element's charge (the neutral ones
    # when no charge can follow), counting the hydrogens still to write and the slack after ']'.
    def _below(self, rows: np.ndarray) -> np.ndarray:
        return self.stack[rows, self.pointer[rows] - 2]

    def _need(self, rows: np.ndarray) -> np.ndarray:
        """The valence the bracket atom being read has used, promised, and owes its ring openers."""
        c = self.cur[rows]
        return self._at(self.used, rows, c) + self._at(self.reserved, rows, c) + self._owed(rows, c)

    def _owed(self, rows: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
        """What the atom being derived must add to its ring closures beyond single bonds when it is
        the last atom (it then closes every open ring): for each ring whose bracket opener
        can land on one of its valences only through a higher closing order, the least such raise."""
        owed = np.zeros(len(rows), dtype=np.int64)
        last = np.flatnonzero(self.producers[rows] == 0)
        if not last.size:
            return owed
        r = rows[last]
        openers = self.ring_atom[r]
        ok = (openers >= 0) & (self.ring_order[r] == 0)
        if exclude is not None:
            ok &= openers != exclude[last][:, None]
        ring_rows, atoms = np.broadcast_to(r[:, None], openers.shape), np.maximum(openers, 0)
        least = np.full(openers.shape, 3)
        for extra in (2, 1, 0):
            least = np.where(self._completes(ring_rows, atoms, extra, 1), extra, least)
        owed[last] = np.where(ok & (least < 3), least, 0).sum(axis=1)
        return owed

    def _bracket_valences(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The valence sets of each row's bracket atom without a charge and with either charge."""
        valences = self.t.token_bracket[self.bracket_element[rows]]
        return valences[:, 0], valences[:, 1] | valences[:, 2]

    def _slack(self, rows: np.ndarray, aromatic: np.ndarray | None = None) -> np.ndarray:
        """How much valence the current atom may still gain after its bracket closes: any amount
        while it can take more ring bonds or branches, else raising to triple those of its promised
        bonds whose order is still open (for an aromatic atom, whose bonds' orders the aromatic
        system settles, any of its promised bonds). ``aromatic`` (broadcast against the rows as a
        column) says which kind of atom it is where its element is not read yet."""
        if aromatic is None:
            aromatic = self.t.token_bracket_degree[self.bracket_element[rows]] < _UNLIMITED
        column = lambda values: values if aromatic.ndim == 1 else values[:, None]  # noqa: E731
        reserved = column(self._at(self.reserved, rows, self.cur[rows]))
        return np.where(
            aromatic,
            np.where(column(self._counts_open(rows)), _UNLIMITED, 2 * reserved),
            column(self._open_valence(rows)),
        )

    def _open_valence(self, rows: np.ndarray, settled: np.ndarray | int = 0, rings_closed: bool = False) -> np.ndarray:
        """How much more valence the current atom may still take, once ``settled`` of its bonds
        whose order is open are settled (``rings_closed``: and its number of ring bonds is decided):
        any amount while it may take more ring bonds or branches, else two for each bond whose
        order is open. The last atom of a molecule (no atom can follow it) can only close open
        rings, each once, and each closure takes only what the ring's order and its opener allow."""
        c = self.cur[rows]
        flexible = np.maximum(self._at(self.flexible, rows, c) - settled, 0)
        rb_open = self.rb_open[rows] & (not rings_closed)
        pending = np.minimum(self.ringbonds[rows] + self.rb_open[rows], flexible)  # its ring bonds still to write
        openers = self.ring_atom[rows]
        safe = np.maximum(openers, 0)
        opener_free = (
            self.capacity[rows[:, None], safe] - self.used[rows[:, None], safe] - self.reserved[rows[:, None], safe]
        )
        written = self.ring_order[rows]
        room = np.where(written > 0, written - 1, np.clip(opener_free, 0, 2))
        closable = (openers >= 0) & (openers != c[:, None]) & (openers != self._at(self.parent, rows, c)[:, None])
        room, rings = np.where(closable, room, 0).sum(axis=1), closable.sum(axis=1)
        last = (self.producers[rows] == 0) & ~self.bb_open[rows]
        ring_room = np.where(rb_open, rings + room - pending, np.minimum(2 * pending, room))
        general = np.where(rb_open | self.bb_open[rows], _UNLIMITED, 2 * flexible)
        return np.where(last, 2 * (flexible - pending) + np.maximum(ring_room, 0), general)

    def _mask_chirality(self, rows: np.ndarray, ok: np.ndarray) -> None:
        need, r, slack = self._need(rows), self.rules, self._slack(rows)
        neutral, charged = self._bracket_valences(rows)
        ok[rows, r["chiral_only"]] &= _reachable(need, neutral, 0, slack)
        more = _reachable(need, neutral, 1, _MAX_H + slack) | _reachable(need, charged, 0, _MAX_H + slack)
        ok[rows, r["chiral_more"]] &= more
        ok[rows, r["no_chiral"]] &= more

    def _mask_hydrogen_count(self, rows: np.ndarray, ok: np.ndarray) -> None:
        need, r, slack = self._need(rows), self.rules, self._slack(rows)
        neutral, charged = self._bracket_valences(rows)
        ok[rows, r["hcount_only"]] &= _reachable(need, neutral, 1, _MAX_H + slack)
        ok[rows, r["hcount_more"]] &= _reachable(need, charged, 1, _MAX_H + slack)
        ok[rows, r["no_hcount"]] &= _reachable(need, charged, 0, slack)

    def _hydrogen_target(self, rows: np.ndarray) -> np.ndarray:
        """The valences the hydrogens being written must reach: charged ones if a charge follows."""
        neutral, charged = self._bracket_valences(rows)
        return np.where(self._below(rows) == self.t.lhs["BACH"], charged, neutral)

    def _mask_hydrogens(self, rows: np.ndarray, ok: np.ndarray) -> None:
        need, target, slack = self._need(rows), self._hydrogen_target(rows), self._slack(rows)
        ok[rows, self.rules["h1"]] &= _reachable(need, target, 1, 1 + slack)
        ok[rows, self.rules["h_digit"]] &= _reachable(need, target, 1, _MAX_H + slack)

    def _mask_charge(self, rows: np.ndarray, ok: np.ndarray) -> None:
        valences, need, r, slack = (
            self.t.token_bracket[self.bracket_element[rows]],
            self._need(rows),
            self.rules,
            self._slack(rows),
        )
        ok[rows, r["plus"]] &= _reachable(need, valences[:, 1], 0, slack)
        ok[rows, r["minus"]] &= _reachable(need, valences[:, 2], 0, slack)
        for name in ("plus_digit", "minus_digit", "plus_digits", "minus_digits"):  # the budgets know charges of one
            ok[rows, r[name]] = False

    @property
    def rules(self) -> dict:
        return self.t.rules

    # ----- following the derivation -------------------------------------------------------------
    def advance(self, rules: np.ndarray) -> None:
        """Rewrite each row's top nonterminal with its chosen rule, then read the terminals it exposes."""
        t, r = self.t, self.rules
        rows = np.flatnonzero(rules != self.padding_rule)
        rules = rules[rows]
        self.pointer[rows] -= 1
        top = self.stack[rows, self.pointer[rows]]
        self.producers[rows] -= t.producer[top]
        self.ringbonds[rows] -= top == t.lhs["ringbond"]
        atom = np.isin(rules, (r["ba"], r["ba_rb"], r["ba_bb"], r["ba_rb_bb"]))
        if atom.any():
            a = rows[atom]
            kind = rules[atom]
            self.next_rb[a] = np.isin(kind, (r["ba_rb"], r["ba_rb_bb"]))
            self.next_bb[a] = np.isin(kind, (r["ba_bb"], r["ba_rb_bb"]))
            below = self.stack[a, self.pointer[a] - 1]  # the branched_atom is popped already
            self.next_reserve[a] = self._continues_chain(below).astype(np.int16) + self.next_rb[a] + self.next_bb[a]
            # a successor's bond order is open only if a bond symbol is written; ring bonds and branches may write one
            self.next_flexible[a] = (below == t.lhs["bond"]).astype(np.int16) + self.next_rb[a] + self.next_bb[a]
            last = (kind == r["ba_rb"]) & (self.producers[a] == 0)  # nothing after this atom can give atoms
            self.next_forced[a] = np.where(last, np.maximum(self._open_rings(a) - 1, 0), 0)
        self.rb_open[rows[rules == r["rb_last"]]] = False
        self.bb_open[rows[rules == r["bb_last"]]] = False
        more = rows[(rules == r["rb_more"]) | (rules == r["bb_more"])]
        self.reserved[more, self.cur[more]] += 1
        self.flexible[more, self.cur[more]] += 1
        plain = rows[rules == r["branch_plain"]]
        self.flexible[plain, self.cur[plain]] -= 1
        width = t.push.shape[1]
        positions = self.pointer[rows][:, None] + np.arange(width)[None, :]
        self.stack[rows[:, None], positions] = t.push[rules]
        self.pointer[rows] += t.push_length[rules]
        self.producers[rows] += t.rule_producers[rules]
        self.ringbonds[rows] += t.rule_ringbonds[rules]
        self._emit()

    def _emit(self) -> None:
        """Read every terminal now on top of a stack, in order, until each top is a nonterminal."""
        n_lhs = self.t.n_lhs
        while True:
            top = self.stack[np.arange(self.n), self.pointer - 1]
            rows = np.flatnonzero(top >= n_lhs)
            if not rows.size:
                return
            self.pointer[rows] -= 1
            self._read(rows, top[rows].astype(np.int64) - n_lhs)

    def _read(self, rows: np.ndarray, token: np.ndarray) -> None:
        t = self.t
        inside = self.in_bracket[rows]
        is_element = t.token_organic[token] > 0
        plain = ~inside & is_element
        if plain.any():
            self._new_atom(rows[plain], t.token_organic[token[plain]], t.token_degree[token[plain]])
        opening = token == t.token["["]
        if opening.any():
            self._new_atom(rows[opening], np.full(opening.sum(), _UNLIMITED), np.full(opening.sum(), _UNLIMITED))
            self.in_bracket[rows[opening]] = True
        named = inside & is_element
        if named.any():  # the largest budget until the charge is known
            self.capacity[rows[named], self.cur[rows[named]]] = _highest(
                np.bitwise_or.reduce(t.token_bracket[token[named]], axis=1)
            )
            self.degree[rows[named], self.cur[rows[named]]] = t.token_bracket_degree[token[named]]
            self.bracket_element[rows[named]] = token[named]
            self.charge[rows[named]] = 0
        sign = inside & ((token == t.token["+"]) | (token == t.token["-"]))
        self.charge[rows[sign]] = np.where(token[sign] == t.token["+"], 1, 2)
        closing = rows[token == t.token["]"]]
        if closing.size:
            valences = t.token_bracket[self.bracket_element[closing], self.charge[closing]]
            self.capacity[closing, self.cur[closing]] = _highest(valences)
            # aromatic atoms get their last unit from the aromatic system, so only aliphatic ones are held exactly
            aliphatic = t.token_bracket_degree[self.bracket_element[closing]] == _UNLIMITED
            self.target[closing, self.cur[closing]] = np.where(aliphatic, valences, 0)
            self.in_bracket[closing] = False
        hydrogen = inside & (token == t.token["H"])
        self.used[rows[hydrogen], self.cur[rows[hydrogen]]] += 1
        count = inside & (t.token_digit[token] > 0) & (self.last_token[rows] == t.token["H"])
        self.used[rows[count], self.cur[rows[count]]] += t.token_digit[token[count]] - 1
        ring = ~inside & (t.token_digit[token] > 0)
        if ring.any():
            self._ring_digit(rows[ring], t.token_digit[token[ring]].astype(np.int64) - 1)
        bond = ~inside & (t.token_order[token] > 0)
        self.pending[rows[bond]] = t.token_order[token[bond]]
        self.flexible[rows[bond], self.cur[rows[bond]]] -= 1  # the order of one of its bonds is written
        branch = rows[token == t.token["("]]
        self.roots[branch, self.depth[branch]] = self.cur[branch]
        self.depth[branch] += 1
        back = rows[token == t.token[")"]]
        self.depth[back] -= 1
        self.cur[back] = self.roots[back, self.depth[back]]
        self.rb_open[back] = self.bb_open[back] = False  # a branch root has decided its ring bonds and branches
        self.last_token[rows] = token

    def _new_atom(self, rows: np.ndarray, capacity: np.ndarray, degree: np.ndarray) -> None:
        """A new atom bonded to the current one (if any) by the pending bond; it becomes current."""
        c, b = self.cur[rows], self.atoms[rows]
        bonded = c >= 0
        order = np.where(self.pending[rows] > 0, self.pending[rows], 1)
        rp, cp = rows[bonded], c[bonded]
        self.used[rp, cp] += order[bonded]
        self.bonds[rp, cp] += 1
        self.reserved[rp, cp] -= 1
        self.used[rows, b] = np.where(bonded, order, 0)
        self.bonds[rows, b] = bonded
        self.reserved[rows, b] = self.next_reserve[rows]
        self.flexible[rows, b] = self.next_flexible[rows]
        self.target[rows, b] = 0
        self.parent[rows, b] = c
        self.capacity[rows, b] = capacity
        self.degree[rows, b] = degree
        self.cur[rows], self.atoms[rows] = b, b + 1
        self.pending[rows] = 0
        self.next_reserve[rows] = 0
        self.next_forced[rows] = 0
        self.next_flexible[rows] = 0
        self.rb_open[rows], self.bb_open[rows] = self.next_rb[rows], self.next_bb[rows]
        self.partners[rows] = -1
        self.partner_count[rows] = 0

    def _ring_digit(self, rows: np.ndarray, digit: np.ndarray) -> None:
        """Open ring ``digit`` at the current atom, or close it there."""
        c, opener = self.cur[rows], self.ring_atom[rows, digit]
        pending = self.pending[rows]
        closing = opener >= 0
        written = self.ring_order[rows, digit]
        order = np.where(pending > 0, pending, np.where(closing & (written > 0), written, 1))
        self.used[rows, c] += order
        self.bonds[rows, c] += 1
        self.reserved[rows, c] -= 1
        settled = closing & (pending == 0)  # a ring bond closed without a bond symbol: order as written, or one
        self.flexible[rows[settled], c[settled]] -= 1
        rc, oc = rows[closing], opener[closing]
        self.used[rc, oc] += (order - self.ring_paid[rows, digit])[closing]
        self.flexible[rc, oc] -= written[closing] == 0  # the opener's unwritten order is settled now
        slot = np.minimum(self.partner_count[rc], self.t.ring_digits - 1)
        self.partners[rc, slot] = oc
        self.partner_count[rc] += 1
        self.ring_atom[rc, digit[closing]] = -1
        ro, do = rows[~closing], digit[~closing]
        self.ring_atom[ro, do] = c[~closing]
        self.ring_order[ro, do] = pending[~closing]
        self.ring_paid[ro, do] = order[~closing]
        self.pending[rows] = 0


CONSTRAINTS = SmilesConstraints  # what grammar_rae.grammar.constraints builds for this grammar
