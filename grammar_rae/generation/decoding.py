"""Grammar-masked decoding of a decoder's logits into production sequences.

Why hand-written: this is the project's own core. Each sample keeps a stack of nonterminals
that starts with the start symbol. At step t the top is popped, the logits are masked to the
productions of that nonterminal, one production is picked (Gumbel-max sampling in log space,
argmax, or the best extensions of a beam) and its right-hand-side nonterminals are pushed in
reverse, so the leftmost is on top. An empty stack forces the padding rule; a stack that is not
empty after the last step makes the sample invalid.

The logits come step by step from a *stepper* (``next(previous_rules)``, ``select(rows)``; see
``grammar_rae.models.networks``): the autoregressive decoder needs the rule chosen at t − 1 to
compute step t, the repeat decoder's logits are computed in one pass and read out per step. The
same loop serves both and stops as soon as every stack is empty.

:func:`masked_decode` runs all samples at once: the stacks are one (N, capacity) tensor with a
stack pointer per sample, so a step is a handful of tensor operations whatever the batch size.
:func:`reference_masked_decode` is the same algorithm as a plain per-sample loop; it is the
readable specification that tests compare against draw for draw. :func:`beam_decode` keeps the
K most probable partial derivations of each sample (for reconstruction).

Masking is done by selection rather than by arithmetic: each step gathers only the logits of
the rules allowed for the nonterminal on top (at most ``width`` of them, 10 for SMILES), so a
masked rule is never a candidate at all. The gathered logits are made finite (NaN -> -1e30,
±inf -> ±1e30) before Gumbel noise is added, so huge, tiny or NaN logits cannot produce a NaN
score either (the reference implementation's ``exp`` overflowed and ``inf * 0`` gave NaN).
Gumbel noise has one value per (sample, step, candidate slot): the slot's rule is fixed by
the nonterminal on top, so every allowed rule gets an independent Gumbel draw, as Gumbel-max
sampling requires, at a fraction of the cost of noising all rules.

Semantic constraints (``grammar_rae.grammar.constraints``) may narrow the candidates further
at each step; where they would leave a sample nothing, that step falls back to the grammar's
choices (counted in ``DecodeResult.fallbacks``), so decoding never stalls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from grammar_rae.grammar.cfg import Grammar
from grammar_rae.grammar.constraints import Constraints

_BIG = 1e30
MODES = ("sample", "argmax")


@dataclass
class DecodeResult:
    """Decoded production sequences.

    Attributes:
        rules: (B, T) production indices; steps after the end hold the padding rule.
        valid: (B,) True where the derivation completed within T steps.
        fallbacks: (B,) steps at which the semantic constraints allowed nothing and the grammar's
            choices were used instead (zeros without constraints).
        scores: (B,) log-probability of each sequence under the decoder (beam search only).
    """

    rules: torch.Tensor
    valid: torch.Tensor
    fallbacks: torch.Tensor
    scores: torch.Tensor | None = None


class DecodingTables:
    """The grammar tables masked decoding needs, as tensors on one device.

    ``candidates[l]`` lists the rules allowed for left-hand side ``l``, padded to ``width``;
    ``slot_allowed[l]`` marks the real slots. ``push[r]`` holds the right-hand-side nonterminals
    of rule ``r`` in reverse (the padding rule pushes the empty-stack marker back, so the marker
    at the bottom of every stack is never lost).
    """

    def __init__(self, grammar: Grammar, device: torch.device | str = "cpu"):
        self.grammar = grammar
        self.device = torch.device(device)
        allowed = [np.flatnonzero(row) for row in grammar.lhs_mask]
        self.width = max(len(a) for a in allowed)
        candidates = np.zeros((len(allowed), self.width), dtype=np.int64)
        slot_allowed = np.zeros((len(allowed), self.width), dtype=bool)
        for lhs, rules in enumerate(allowed):
            candidates[lhs, : len(rules)] = rules
            slot_allowed[lhs, : len(rules)] = True
        pushes = [r[::-1] for r in grammar.rule_rhs_nonterminals]
        pushes[grammar.padding_rule] = (grammar.padding_lhs,)
        self.push_width = max(len(r) for r in pushes)
        push = np.zeros((grammar.n_rules, self.push_width), dtype=np.int64)
        for rule, nonterminals in enumerate(pushes):
            push[rule, : len(nonterminals)] = nonterminals
        self.candidates = torch.as_tensor(candidates, device=self.device)
        self.slot_allowed = torch.as_tensor(slot_allowed, device=self.device)
        self.push = torch.as_tensor(push, device=self.device)
        self.push_length = torch.as_tensor([len(r) for r in pushes], device=self.device)
        self.start = grammar.start_lhs
        self.empty = grammar.padding_lhs
        self.padding_rule = grammar.padding_rule

    def to(self, device: torch.device | str) -> DecodingTables:
        """These tables on ``device`` (self if already there)."""
        return self if torch.device(device) == self.device else DecodingTables(self.grammar, device)

    def noise_shape(self, rows: int, steps: int) -> tuple[int, int, int]:
        """Shape of the Gumbel noise that decoding ``rows`` sequences of ``steps`` consumes."""
        return (rows, steps, self.width)


def gumbel_noise(shape: tuple[int, ...], generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Standard Gumbel noise computed in log space: -log(E) with E ~ Exponential(1)."""
    exponential = torch.empty(shape, device=device).exponential_(generator=generator)
    return -torch.log(exponential.clamp_min(torch.finfo(torch.float32).tiny))


def finite_logits(logits: torch.Tensor) -> torch.Tensor:
    """Float32 logits with NaN -> -1e30 and ±inf -> ±1e30, so adding noise stays finite."""
    return torch.nan_to_num(logits.float(), nan=-_BIG, posinf=_BIG, neginf=-_BIG)


class _Stacks:
    """Every row's stack of left-hand-side indices as one tensor, with a pointer per row.

    Entry 0 is the empty-stack marker, which stays put. Pushes always write ``push_width``
    entries: those past a rule's length land above the new top, where nothing is read before
    it is overwritten.
    """

    def __init__(self, rows: int, steps: int, tables: DecodingTables, device: torch.device):
        self.tables = tables
        self.entries = torch.full((rows, 2 + steps * tables.push_width), tables.empty, dtype=torch.long, device=device)
        self.entries[:, 1] = tables.start
        self.pointer = torch.full((rows, 1), 2, dtype=torch.long, device=device)  # entries in use
        self.offsets = torch.arange(tables.push_width, device=device)

    def pop(self) -> torch.Tensor:
        """Remove and return each row's top (the empty marker where a stack is empty)."""
        self.pointer = self.pointer - 1
        return self.entries.gather(1, self.pointer).squeeze(1)

    def push(self, rules: torch.Tensor) -> None:
        """Push the right-hand-side nonterminals of each row's chosen rule."""
        self.entries.scatter_(1, self.pointer + self.offsets, self.tables.push[rules])
        self.pointer = self.pointer + self.tables.push_length[rules].unsqueeze(1)

    def empty(self) -> torch.Tensor:
        """(N,) True where the derivation is complete."""
        return self.pointer.squeeze(1) == 1

    def select(self, index: torch.Tensor) -> None:
        """Keep rows ``index`` (in that order)."""
        self.entries, self.pointer = self.entries[index], self.pointer[index]


def _candidates(
    tables: DecodingTables, top: torch.Tensor, constraints: Constraints | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Candidate rules (N, W) for the nonterminals on top, which slots may be chosen, and which
    rows fell back to the grammar's choices because the constraints allowed none."""
    candidates = tables.candidates[top]
    allowed = tables.slot_allowed[top]
    fallback = torch.zeros(len(top), dtype=torch.bool, device=top.device)
    if constraints is not None:
        narrowed = (
            torch.as_tensor(constraints.allowed(top.cpu().numpy(), candidates.cpu().numpy()), device=top.device)
            & allowed
        )
        fallback = ~narrowed.any(dim=1)
        allowed = torch.where(fallback.unsqueeze(1), allowed, narrowed)
    return candidates, allowed, fallback


@contextmanager
def denormals_flushed() -> Iterator[None]:
    """Denormal floats read as zero inside (used on every decoder). A trained GRU's float32 hidden
    state can hold values below float32's normal range, which CPUs compute on far more slowly:
    greedy decoding of a long-trained model ran 2.3x slower for it (docs/generation.md). Restores
    torch's default on leaving (torch has no getter for the flag)."""
    changed = torch.set_flush_denormal(True)  # False where the CPU cannot flush: nothing to restore
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(False)


def _check_mode(mode: str, temperature: float) -> None:
    if mode not in MODES:
        raise ValueError(f"Unknown decoding mode {mode!r}: use 'sample' or 'argmax'.")
    if not temperature > 0:
        raise ValueError(f"The sampling temperature must be positive, not {temperature}.")


@torch.no_grad()
@denormals_flushed()
def masked_decode(
    stepper,
    rows: int,
    tables: DecodingTables,
    steps: int,
    mode: str = "sample",
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
    temperature: float = 1.0,
    constraints: Constraints | None = None,
    device: torch.device | str = "cpu",
) -> DecodeResult:
    """Decode ``rows`` sequences of at most ``steps`` rules from a stepper, all rows at once.

    Args:
        stepper: gives each step's logits for every row (see the decoders' steppers).
        rows: sequences decoded together.
        tables: the grammar's masks and rule tables on the device.
        steps: the most rules per sequence.
        mode: ``sample`` (Gumbel-max on logits / ``temperature``) or ``argmax``.
        generator: draws the Gumbel noise when ``noise`` is not given.
        noise: fixed Gumbel draws of shape ``tables.noise_shape(rows, steps)``.
        temperature: divides the logits before sampling.
        constraints: narrow each step's choices further (the grammar's semantic constraints).
        device: where the decoding runs.
    """
    _check_mode(mode, temperature)
    device = torch.device(device)
    tables = tables.to(device)
    if mode == "argmax":
        noise = None
    elif noise is None:
        noise = gumbel_noise(tables.noise_shape(rows, steps), generator, device)
    stacks = _Stacks(rows, steps, tables, device)
    chosen = torch.full((rows, steps), tables.padding_rule, dtype=torch.long, device=device)
    fallbacks = torch.zeros(rows, dtype=torch.long, device=device)
    previous = None
    for t in range(steps):
        if bool(stacks.empty().all()):
            break
        scores = stepper.next(previous)
        top = stacks.pop()
        candidates, allowed, fallback = _candidates(tables, top, constraints)
        scores = finite_logits(scores.gather(1, candidates))
        if noise is not None:
            scores = scores / temperature + noise[:, t]
        slot = scores.masked_fill(~allowed, -torch.inf).argmax(dim=1, keepdim=True)
        rule = candidates.gather(1, slot).squeeze(1)
        stacks.push(rule)
        if constraints is not None:
            constraints.advance(rule.cpu().numpy())
        chosen[:, t] = rule
        fallbacks += fallback
        previous = rule
    return DecodeResult(chosen, stacks.empty(), fallbacks)


@torch.no_grad()
@denormals_flushed()
def beam_decode(
    stepper,
    rows: int,
    beam: int,
    tables: DecodingTables,
    steps: int,
    constraints: Constraints | None = None,
    device: torch.device | str = "cpu",
) -> DecodeResult:
    """The most probable sequence of each of ``rows`` samples found by a beam of ``beam``.
    Hypotheses are ranked by the sum of their masked log-probabilities; a finished one only extends
    with the padding rule at no cost.

    Args:
        stepper: holds ``rows * beam`` rows, each sample repeated ``beam`` times in a row
            (``repeat_interleave``).
        rows: the samples.
        beam: hypotheses kept per sample.
        tables: the grammar's masks and rule tables on the device.
        steps: the most rules per sequence.
        constraints: narrow each step's choices (held for ``rows * beam`` rows like the stepper).
        device: where the decoding runs.
    """
    if beam < 1:
        raise ValueError(f"The beam width must be at least 1, not {beam}.")
    device = torch.device(device)
    tables = tables.to(device)
    n = rows * beam
    stacks = _Stacks(n, steps, tables, device)
    chosen = torch.full((n, steps), tables.padding_rule, dtype=torch.long, device=device)
    fallbacks = torch.zeros(n, dtype=torch.long, device=device)
    score = torch.full((rows, beam), -torch.inf, device=device)
    score[:, 0] = 0.0  # one live hypothesis per sample at the start
    base = (torch.arange(rows, device=device) * beam).unsqueeze(1)
    previous = None
    for t in range(steps):
        if bool((stacks.empty() | torch.isinf(score.view(-1))).all()):
            break
        logits = stepper.next(previous)
        top = stacks.pop()
        candidates, allowed, fallback = _candidates(tables, top, constraints)
        masked = finite_logits(logits.gather(1, candidates)).masked_fill(~allowed, -torch.inf)
        log_probs = torch.log_softmax(masked, dim=1)
        total = (score.view(n, 1) + log_probs).view(rows, beam * tables.width)
        score, flat = total.topk(beam, dim=1)
        origin = (base + flat // tables.width).view(-1)
        rule = candidates[origin, (flat % tables.width).view(-1)]
        stacks.select(origin)
        stepper.select(origin)
        if constraints is not None:
            constraints.select(origin.cpu().numpy())
        chosen, fallbacks = chosen[origin], fallbacks[origin] + fallback[origin]
        stacks.push(rule)
        if constraints is not None:
            constraints.advance(rule.cpu().numpy())
        chosen[:, t] = rule
        previous = rule
    best = base.squeeze(1)  # topk keeps each sample's hypotheses sorted, best first
    valid = stacks.empty()[best] & torch.isfinite(score[:, 0])
    return DecodeResult(chosen[best], valid, fallbacks[best], score[:, 0])


@torch.no_grad()
@denormals_flushed()
def char_decode(
    stepper,
    rows: int,
    steps: int,
    mode: str = "sample",
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    pad: int = 0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Character indices (rows, steps) from a character model's stepper, without a grammar: each
    step takes the argmax (or Gumbel-max sample) over all characters, and decoding stops once every
    row has written the padding character.

    Args:
        stepper: gives each step's logits for every row.
        rows: sequences decoded together.
        steps: the most characters per sequence.
        mode: ``sample`` or ``argmax``.
        generator: draws the Gumbel noise.
        temperature: divides the logits before sampling.
        pad: the padding character's index.
        device: where the decoding runs.
    """
    _check_mode(mode, temperature)
    chosen = torch.full((rows, steps), pad, dtype=torch.long, device=device)
    finished = torch.zeros(rows, dtype=torch.bool, device=device)
    noise, previous = None, None
    for t in range(steps):
        logits = finite_logits(stepper.next(previous))
        if mode == "sample":
            if noise is None:  # drawn for all steps at once, as for the grammar models
                noise = gumbel_noise((rows, steps, logits.shape[1]), generator, device)
            logits = logits / temperature + noise[:, t]
        previous = logits.argmax(dim=1)
        chosen[:, t] = previous
        finished |= previous == pad
        if bool(finished.all()):
            break
    return chosen


def reference_masked_decode(
    stepper_for: Callable[[int], object],
    rows: int,
    grammar: Grammar,
    steps: int,
    mode: str = "sample",
    noise: torch.Tensor | None = None,
    temperature: float = 1.0,
    constraints_for: Callable[[int], Constraints] | None = None,
) -> DecodeResult:
    """The same algorithm as :func:`masked_decode`, one sample and one step at a time (the
    reference the batched decoder is tested against).

    Args:
        stepper_for: ``stepper_for(b)`` gives a one-row stepper for sample ``b``.
        rows: the samples.
        grammar: the grammar whose masks apply.
        steps: the most rules per sequence.
        mode: ``sample`` or ``argmax``.
        noise: fixed Gumbel draws, as for :func:`masked_decode`.
        temperature: divides the logits before sampling.
        constraints_for: ``constraints_for(b)`` gives sample ``b``'s one-row constraints (None: none).
    """
    _check_mode(mode, temperature)
    noise_np = noise.numpy() if mode == "sample" else None
    allowed = [np.flatnonzero(row) for row in grammar.lhs_mask]
    rhs = grammar.rule_rhs_nonterminals
    rules = np.full((rows, steps), grammar.padding_rule, dtype=np.int64)
    valid = np.empty(rows, dtype=bool)
    fallbacks = np.zeros(rows, dtype=np.int64)
    for b in range(rows):
        stepper, constraints = stepper_for(b), constraints_for(b) if constraints_for else None
        stack, previous = [grammar.start_lhs], None
        for t in range(steps):
            if not stack:
                break
            logits = finite_logits(stepper.next(previous))[0].numpy()
            top = stack.pop()
            candidates = allowed[top]
            ok = np.ones(len(candidates), dtype=bool)
            if constraints is not None:
                padded = np.zeros((1, len(candidates)), dtype=np.int64)
                padded[0] = candidates
                narrowed = constraints.allowed(np.array([top]), padded)[0]
                if narrowed.any():
                    ok = narrowed
                else:
                    fallbacks[b] += 1
            scores = logits[candidates]
            if noise_np is not None:
                scores = scores / temperature + noise_np[b, t, : len(candidates)]
            rule = int(candidates[np.argmax(np.where(ok, scores, -np.inf))])
            rules[b, t] = rule
            stack.extend(reversed(rhs[rule]))
            if constraints is not None:
                constraints.advance(np.array([rule]))
            previous = torch.tensor([rule])
        valid[b] = not stack
    return DecodeResult(torch.from_numpy(rules), torch.from_numpy(valid), torch.from_numpy(fallbacks))
