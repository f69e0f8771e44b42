"""Parsing many strings on all cores, with a per-item outcome instead of an abort on failure."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from grammar_rae.errors import GrammarRAEError, InvalidString, ParseError, TokenizeError
from grammar_rae.grammar.cfg import Grammar, builtin_grammars
from grammar_rae.grammar.codec import check_length
from grammar_rae.grammar.parser import Parser
from grammar_rae.parallel import default_workers, quiet_worker
from grammar_rae.progress import progress_bar

Check = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Outcome:
    """What became of one input string: its production sequence, or the kind and text of its error."""

    sequence: list[int] | None
    kind: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the string parsed (and passed the checks)."""
        return self.sequence is not None


class _Encoder:
    """Parse one string, enforce the length limit and the language's own check."""

    def __init__(self, grammar: Grammar, max_length: int | None, check: Check | None):
        self.parser = Parser(grammar)
        self.max_length = max_length
        self.check = check

    def __call__(self, text: str) -> Outcome:
        try:
            sequence = self.parser.parse(text)
            if self.max_length is not None:
                check_length(text, sequence, self.max_length)
            reason = self.check(text) if self.check else None
            if reason:
                raise InvalidString(f"{text!r} is not valid: {reason}.")
        except GrammarRAEError as exc:
            return Outcome(None, exc.kind, str(exc))
        return Outcome(sequence)

    def chunk(self, texts: Sequence[str]) -> list[Outcome]:
        return [self(text) for text in texts]


_worker_encoder: _Encoder | None = None


def _start_worker(grammar_text: str, max_length: int | None, check: Check | None) -> None:
    global _worker_encoder
    quiet_worker()
    _worker_encoder = _Encoder(Grammar.from_text(grammar_text), max_length, check)


def _work(texts: Sequence[str]) -> list[Outcome]:
    assert _worker_encoder is not None
    return _worker_encoder.chunk(texts)


def parse_many(
    grammar: Grammar,
    texts: Sequence[str],
    *,
    max_length: int | None = None,
    check: Check | None = None,
    workers: int | None = None,
    chunk_size: int = 2000,
    desc: str | None = None,
) -> list[Outcome]:
    """Parse strings in order on several processes; each string gets an :class:`Outcome`.

    Args:
        grammar: the grammar.
        texts: the strings.
        max_length: strings longer than this many productions fail (default: the grammar's).
        check: a picklable function giving a reason why a string is no member of its language, or
            None (e.g. RDKit's verdict on SMILES); failing strings are failures.
        workers: processes (default: all cores).
        chunk_size: strings per task.
        desc: names the progress bar, shown while progress is (``grammar_rae.progress``); None: no bar.
    """
    workers = workers or default_workers()
    chunks = [texts[i : i + chunk_size] for i in range(0, len(texts), chunk_size)]
    bar = progress_bar(
        total=len(texts),
        desc=desc,
        unit=" strings",
        enabled=None if desc else False,
        smoothing=0.1,
    )
    outcomes: list[Outcome] = []
    with bar:
        for done in _chunk_results(grammar, chunks, max_length, check, workers):
            outcomes.extend(done)
            bar.update(len(done))
    return outcomes


def _chunk_results(grammar, chunks, max_length, check, workers) -> Iterator[list[Outcome]]:
    if workers == 1 or len(chunks) <= 1:
        encoder = _Encoder(grammar, max_length, check)
        yield from map(encoder.chunk, chunks)
        return
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with context.Pool(workers, _start_worker, (grammar.source_text, max_length, check)) as pool:
        yield from pool.imap(_work, chunks)


def grammar_of(texts: Sequence[str]) -> str | None:
    """The first shipped grammar whose language holds every one of ``texts`` (None for none):
    lets a command given strings but no model pick a model of the right kind."""
    for name in builtin_grammars():
        parser = Parser(Grammar.load(name))
        try:
            for text in texts:
                parser.parse(text)
        except (TokenizeError, ParseError):
            continue
        return name
    return None
