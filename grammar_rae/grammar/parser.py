"""Exact, fast parsing of token sequences into production-index sequences.

Why hand-written: nltk's chart parser is exact but slow (~76 ZINC molecules/s), and the
SMILES grammar is not LR(1) (after an atom, ``=`` may start a ring bond ``=1`` or a chain
bond ``=C``), so an off-the-shelf LALR parser rejects it. This module builds LALR(1) tables
from any grammar file and runs them as a generalised LR (GLR) parser: where the table holds
several actions the parse stack forks, and forks that the next tokens contradict die. On the
shipped grammars the forks live for one token, so the parser runs at LR speed.

The output is the parse tree's productions in pre-order (the leftmost derivation), which is
exactly what ``nltk.ChartParser(grammar).parse(tokens)`` yields for an input with a single
parse. Should an input ever have several parses (or the forks grow past a limit), the parser
hands it to nltk and returns nltk's first tree, so the result always equals nltk's.
"""

from __future__ import annotations

from collections import defaultdict

from grammar_rae.errors import GrammarError, ParseError
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.grammar.symbols import Nonterminal, from_nltk
from grammar_rae.grammar.tokenizer import Tokenizer

_END = None  # the end-of-input lookahead; terminals are always strings
_ACCEPT = -1
_MAX_STACKS = 64  # live forks after one token
_MAX_REDUCTIONS = 10_000  # reductions before one token (guards hidden left recursion through empty rules)


class _LALRTables:
    """LALR(1) ACTION/GOTO tables for the productive, non-padding rules of a grammar.

    Actions are ints: ``s >= 0`` shifts to state ``s``; ``-1`` accepts; ``-(k + 2)`` reduces by
    parser rule ``k``. A cell with several actions (a conflict) holds a tuple.
    """

    def __init__(self, grammar: Grammar):
        # Parser rules: (lhs, rhs, index in the grammar). Rule 0 is the augmented start rule.
        augmented = Nonterminal("<start>")
        self.rules: list[tuple[Nonterminal, tuple, int]] = [(augmented, (grammar.start,), -1)]
        for i, p in enumerate(grammar.productions):
            if grammar.productive[i] and i != grammar.padding_rule:
                self.rules.append((p.lhs(), tuple(p.rhs()), i))
        self.by_lhs: dict[Nonterminal, list[int]] = defaultdict(list)
        for k, (lhs, _, _) in enumerate(self.rules):
            self.by_lhs[lhs].append(k)
        self._compute_first()
        self._check_cycle_free()
        self._build_lr0()
        self._compute_lookaheads()
        self._build_actions()

    # ----- FIRST sets ---------------------------------------------------------------------
    def _compute_first(self) -> None:
        self.nullable: set[Nonterminal] = set()
        self.first: dict[Nonterminal, set[str]] = defaultdict(set)
        changed = True
        while changed:
            changed = False
            for lhs, rhs, _ in self.rules:
                before = (lhs in self.nullable, len(self.first[lhs]))
                firsts, nullable = self._first_of(rhs)
                self.first[lhs] |= firsts
                if nullable:
                    self.nullable.add(lhs)
                changed |= before != (lhs in self.nullable, len(self.first[lhs]))

    def _first_of(self, symbols: tuple) -> tuple[set, bool]:
        out: set = set()
        for sym in symbols:
            if isinstance(sym, str):
                out.add(sym)
                return out, False
            out |= self.first[sym]
            if sym not in self.nullable:
                return out, False
        return out, True

    def _check_cycle_free(self) -> None:
        """Reject grammars with a derivation A =>+ A: they have infinitely many parse trees."""
        unit = defaultdict(set)  # A -> B when A -> alpha B beta with alpha, beta nullable
        for lhs, rhs, _ in self.rules:
            for j, sym in enumerate(rhs):
                others = rhs[:j] + rhs[j + 1 :]
                if isinstance(sym, Nonterminal) and all(o in self.nullable for o in others):
                    unit[lhs].add(sym)
        for start in list(unit):
            seen, todo = set(), list(unit[start])
            while todo:
                sym = todo.pop()
                if sym == start:
                    raise GrammarError(f"The grammar has a cycle {start} =>+ {start}; it cannot be parsed.")
                if sym not in seen:
                    seen.add(sym)
                    todo.extend(unit[sym])

    # ----- LR(0) automaton ----------------------------------------------------------------
    def _closure0(self, kernel: frozenset) -> set:
        items, todo = set(kernel), list(kernel)
        while todo:
            k, dot = todo.pop()
            rhs = self.rules[k][1]
            if dot < len(rhs) and isinstance(rhs[dot], Nonterminal):
                for q in self.by_lhs[rhs[dot]]:
                    if (q, 0) not in items:
                        items.add((q, 0))
                        todo.append((q, 0))
        return items

    def _build_lr0(self) -> None:
        self.kernels: list[frozenset] = [frozenset({(0, 0)})]
        self.goto: list[dict] = []
        index = {self.kernels[0]: 0}
        s = 0
        while s < len(self.kernels):
            moves: dict = defaultdict(set)
            for k, dot in self._closure0(self.kernels[s]):
                rhs = self.rules[k][1]
                if dot < len(rhs):
                    moves[rhs[dot]].add((k, dot + 1))
            row = {}
            for sym, kernel in moves.items():
                kernel = frozenset(kernel)
                if kernel not in index:
                    index[kernel] = len(self.kernels)
                    self.kernels.append(kernel)
                row[sym] = index[kernel]
            self.goto.append(row)
            s += 1

    # ----- LALR(1) lookaheads (spontaneous generation and propagation) --------------------
    def _closure1(self, items: dict) -> dict:
        """LR(1) closure of ``{(rule, dot): lookahead set}``."""
        items = {item: set(la) for item, la in items.items()}
        todo = list(items)
        while todo:
            k, dot = todo.pop()
            rhs = self.rules[k][1]
            if dot < len(rhs) and isinstance(rhs[dot], Nonterminal):
                firsts, nullable = self._first_of(rhs[dot + 1 :])
                new = firsts | items[(k, dot)] if nullable else firsts
                for q in self.by_lhs[rhs[dot]]:
                    have = items.setdefault((q, 0), set())
                    if not new <= have:
                        have |= new
                        todo.append((q, 0))
        return items

    def _compute_lookaheads(self) -> None:
        probe = object()  # stands for "whatever lookahead the kernel item has"
        self.lookaheads = {(s, item): set() for s, kernel in enumerate(self.kernels) for item in kernel}
        self.lookaheads[(0, (0, 0))].add(_END)
        propagate = defaultdict(list)
        for s, kernel in enumerate(self.kernels):
            for item in kernel:
                for (k, dot), las in self._closure1({item: {probe}}).items():
                    rhs = self.rules[k][1]
                    if dot == len(rhs):
                        continue
                    target = (self.goto[s][rhs[dot]], (k, dot + 1))
                    for la in las:
                        if la is probe:
                            propagate[(s, item)].append(target)
                        else:
                            self.lookaheads[target].add(la)
        changed = True
        while changed:
            changed = False
            for source, targets in propagate.items():
                for target in targets:
                    if not self.lookaheads[source] <= self.lookaheads[target]:
                        self.lookaheads[target] |= self.lookaheads[source]
                        changed = True

    def _build_actions(self) -> None:
        self.action: list[dict] = []
        for s, kernel in enumerate(self.kernels):
            cells: dict = defaultdict(list)
            for (k, dot), las in self._closure1({it: self.lookaheads[(s, it)] for it in kernel}).items():
                rhs = self.rules[k][1]
                if dot < len(rhs):
                    if isinstance(rhs[dot], str):
                        act = self.goto[s][rhs[dot]]
                        if act not in cells[rhs[dot]]:
                            cells[rhs[dot]].append(act)
                else:
                    act = _ACCEPT if k == 0 else -(k + 2)
                    for la in las:
                        if act not in cells[la]:
                            cells[la].append(act)
            self.action.append({t: acts[0] if len(acts) == 1 else tuple(acts) for t, acts in cells.items()})


class _Ambiguous(Exception):
    """Internal: the input has several parses (or too many live forks); ask nltk."""


class Parser:
    """Parse strings of a grammar into production-index sequences (pre-order).

    >>> Parser(Grammar.load("expr")).parse("x + 1")
    [0, 3, 7, 8]
    """

    def __init__(self, grammar: Grammar):
        self.grammar = grammar
        self.tokenizer = Tokenizer(grammar)
        tables = _LALRTables(grammar)
        self._action = tables.action
        self._goto = [{sym: s for sym, s in row.items() if isinstance(sym, Nonterminal)} for row in tables.goto]
        self._rules = [(lhs, len(rhs), index) for lhs, rhs, index in tables.rules]
        self._nltk_parser = None  # nltk.ChartParser, made on the first ambiguous input

    def parse(self, text: str) -> list[int]:
        """Tokenize and parse ``text``; raise TokenizeError/ParseError when it is not in the grammar."""
        return self.parse_tokens(self.tokenizer.tokenize(text))

    def parse_tokens(self, tokens: list[str]) -> list[int]:
        """Parse a token list into the pre-order production-index sequence of its parse tree."""
        try:
            return self._glr(tokens)
        except _Ambiguous:
            return self._nltk_first_tree(tokens)

    def _glr(self, tokens: list[str]) -> list[int]:
        """GLR over linked stacks ``(state, subtree pre-order list or None, below)``.

        While there is one stack and its table cells hold one action, the parser runs a plain
        LR loop; a conflict switches to the forking loop for that token.
        """
        action, goto, rules = self._action, self._goto, self._rules
        top = (0, None, None)
        stacks: list | None = None  # None: a single stack, `top`
        for position, token in enumerate([*tokens, _END]):
            if stacks is None:
                while True:
                    acts = action[top[0]].get(token)
                    if type(acts) is not int:
                        break
                    if acts >= 0:
                        top = (acts, None, top)
                        break
                    if acts == _ACCEPT:
                        return top[1]
                    lhs, n, index = rules[-acts - 2]
                    if n == 1:  # most reductions; inlined for speed
                        below = top[2]
                        top = (goto[below[0]][lhs], [index, *top[1]] if top[1] else [index], below)
                    else:
                        top = self._reduce(top, lhs, n, index, goto)
                if acts is None:
                    self._fail(tokens, position)
                if type(acts) is int:
                    continue
                stacks = [top]
            stacks, results = self._fork_step(stacks, token)
            if results:
                if len(results) > 1 or stacks:
                    raise _Ambiguous
                return results[0]
            if not stacks:
                self._fail(tokens, position)
            if len(stacks) > _MAX_STACKS:
                raise _Ambiguous
            if len(stacks) == 1:
                top, stacks = stacks[0], None
        raise AssertionError("unreachable: the end marker either accepts or fails")

    @staticmethod
    def _reduce(top: tuple, lhs: Nonterminal, n: int, index: int, goto: list[dict]) -> tuple:
        """Pop ``n`` entries and push ``lhs`` with the pre-order list of the new subtree."""
        children = [None] * n
        node = top
        for j in range(n - 1, -1, -1):
            children[j] = node[1]
            node = node[2]
        tree = [index]
        for child in children:
            if child:
                tree += child
        return (goto[node[0]][lhs], tree, node)

    def _fork_step(self, stacks: list[tuple], token: str | None) -> tuple[list[tuple], list[list[int]]]:
        """Apply every action of every stack for one token: the stacks after shifting it,
        and the trees accepted (at the end marker)."""
        action, goto, rules = self._action, self._goto, self._rules
        shifted: list[tuple] = []
        results: list[list[int]] = []
        work = stacks
        budget = _MAX_REDUCTIONS
        while work:
            budget -= len(work)
            if budget < 0:
                raise _Ambiguous
            reduced = []
            for top in work:
                acts = action[top[0]].get(token)
                if acts is None:
                    continue
                for act in (acts,) if type(acts) is int else acts:
                    if act >= 0:
                        shifted.append((act, None, top))
                    elif act == _ACCEPT:
                        results.append(top[1])
                    else:
                        reduced.append(self._reduce(top, *rules[-act - 2], goto))
            work = reduced
        return shifted, results

    def _fail(self, tokens: list[str], position: int) -> None:
        if position == len(tokens):
            raise ParseError(
                f"{self.tokenizer.join(tokens)!r} is incomplete: it ends where the "
                f"{self.grammar.name} grammar expects more."
            )
        raise ParseError(
            f"{self.tokenizer.join(tokens)!r} is not in the {self.grammar.name} grammar: "
            f"token {position + 1} ({tokens[position]!r}) cannot follow the tokens before it."
        )

    def _nltk_first_tree(self, tokens: list[str]) -> list[int]:
        if self._nltk_parser is None:
            import nltk

            self._nltk_parser = nltk.ChartParser(self.grammar.cfg)
        tree = next(iter(self._nltk_parser.parse(tokens)), None)
        if tree is None:
            raise ParseError(f"{self.tokenizer.join(tokens)!r} is not in the {self.grammar.name} grammar.")
        return production_sequence(self.grammar, tree)


def production_sequence(grammar: Grammar, tree) -> list[int]:
    """The pre-order production indices of an ``nltk.Tree``."""
    return [grammar.production_index[from_nltk(p)] for p in tree.productions()]
