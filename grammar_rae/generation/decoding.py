"""Grammar-masked decoding of decoder logits into production sequences.

Why hand-written: this is the project's own core. Each sample keeps a stack of nonterminals
that starts with the start symbol. At step t the top is popped, the logits are masked to the
productions of that nonterminal, one production is picked (Gumbel-max sampling in log space,
or argmax) and its right-hand-side nonterminals are pushed in reverse, so the leftmost is on
top. An empty stack forces the padding rule; a stack that is not empty after the last step
makes the sample invalid.

:func:`masked_decode` runs all samples at once: the stacks are one (B, capacity) tensor with a
stack pointer per sample, so a step is a handful of tensor operations whatever the batch size.
:func:`reference_masked_decode` is the same algorithm written as a plain per-sample loop; it
is the readable specification that tests compare against draw for draw.

Masking is done by selection rather than by arithmetic: each step gathers only the logits of
the rules allowed for the nonterminal on top (at most ``width`` of them, 10 for SMILES), so a
masked rule is never a candidate at all. The gathered logits are made finite (NaN -> -1e30,
±inf -> ±1e30) before Gumbel noise is added, so huge, tiny or NaN logits cannot produce a NaN
score either (the reference implementation's ``exp`` overflowed and ``inf * 0`` gave NaN).
Gumbel noise has one value per (sample, step, candidate slot): the slot's rule is fixed by
the nonterminal on top, so every allowed rule gets an independent Gumbel draw, as Gumbel-max
sampling requires, at a fraction of the cost of noising all rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from grammar_rae.grammar.cfg import Grammar

_BIG = 1e30


@dataclass
class DecodeResult:
    """Decoded production sequences.

    Attributes:
        rules: (B, T) production indices; steps after the end hold the padding rule.
        valid: (B,) True where the derivation completed within T steps.
    """

    rules: torch.Tensor
    valid: torch.Tensor


class DecodingTables:
    """The grammar tables masked decoding needs, as tensors on one device.

    ``candidates[l]`` lists the rules allowed for left-hand side ``l``, padded to ``width``;
    ``slot_mask[l]`` is 0 for real slots and -inf for padded ones. ``push[r]`` holds the
    right-hand-side nonterminals of rule ``r`` in reverse (the padding rule pushes the
    empty-stack marker back, so the marker at the bottom of every stack is never lost).
    """

    def __init__(self, grammar: Grammar, device: torch.device | str = "cpu"):
        self.grammar = grammar
        self.device = torch.device(device)
        allowed = [np.flatnonzero(row) for row in grammar.lhs_mask]
        self.width = max(len(a) for a in allowed)
        candidates = np.zeros((len(allowed), self.width), dtype=np.int64)
        slot_mask = np.full((len(allowed), self.width), -np.inf, dtype=np.float32)
        for lhs, rules in enumerate(allowed):
            candidates[lhs, : len(rules)] = rules
            slot_mask[lhs, : len(rules)] = 0.0
        pushes = [r[::-1] for r in grammar.rule_rhs_nonterminals]
        pushes[grammar.padding_rule] = (grammar.padding_lhs,)
        self.push_width = max(len(r) for r in pushes)
        push = np.zeros((grammar.n_rules, self.push_width), dtype=np.int64)
        for rule, nonterminals in enumerate(pushes):
            push[rule, : len(nonterminals)] = nonterminals
        self.candidates = torch.as_tensor(candidates, device=self.device)
        self.slot_mask = torch.as_tensor(slot_mask, device=self.device)
        self.push = torch.as_tensor(push, device=self.device)
        self.push_length = torch.as_tensor([len(r) for r in pushes], device=self.device)
        self.start = grammar.start_lhs
        self.empty = grammar.padding_lhs

    def to(self, device: torch.device | str) -> "DecodingTables":
        """These tables on ``device`` (self if already there)."""
        return self if torch.device(device) == self.device else DecodingTables(self.grammar, device)

    def noise_shape(self, logits: torch.Tensor) -> tuple[int, int, int]:
        """Shape of the Gumbel noise that decoding ``logits`` consumes: (B, T, width)."""
        return (logits.shape[0], logits.shape[1], self.width)


def gumbel_noise(shape: tuple[int, ...], generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Standard Gumbel noise computed in log space: -log(E) with E ~ Exponential(1)."""
    exponential = torch.empty(shape, device=device).exponential_(generator=generator)
    return -torch.log(exponential.clamp_min(torch.finfo(torch.float32).tiny))


def finite_logits(logits: torch.Tensor) -> torch.Tensor:
    """Float32 logits with NaN -> -1e30 and ±inf -> ±1e30, so adding noise stays finite."""
    return torch.nan_to_num(logits.float(), nan=-_BIG, posinf=_BIG, neginf=-_BIG)


@torch.no_grad()
def masked_decode(
    logits: torch.Tensor,
    tables: DecodingTables,
    mode: str = "sample",
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
) -> DecodeResult:
    """Decode (B, T, R) logits into production sequences, all samples at once.

    ``mode`` is ``"sample"`` (Gumbel-max; ``noise`` of shape ``tables.noise_shape(logits)`` may
    be given to fix the draws, otherwise it is drawn from ``generator``) or ``"argmax"``.
    """
    if mode not in ("sample", "argmax"):
        raise ValueError(f"Unknown decoding mode {mode!r}: use 'sample' or 'argmax'.")
    batch, steps, _ = logits.shape
    device = logits.device
    tables = tables.to(device)
    if mode == "argmax":
        noise = None
    elif noise is None:
        noise = gumbel_noise(tables.noise_shape(logits), generator, device)

    # Stacks hold left-hand-side indices; entry 0 is the empty-stack marker, which stays put.
    # Pushes always write push_width entries: those past a rule's length land above the new
    # top, where nothing is read before it is overwritten.
    capacity = 2 + steps * tables.push_width
    stack = torch.full((batch, capacity), tables.empty, dtype=torch.long, device=device)
    stack[:, 1] = tables.start
    pointer = torch.full((batch, 1), 2, dtype=torch.long, device=device)  # entries in use
    push_offsets = torch.arange(tables.push_width, device=device)
    chosen = []
    for t in range(steps):
        pointer = pointer - 1
        top = stack.gather(1, pointer).squeeze(1)
        candidates = tables.candidates[top]
        scores = finite_logits(logits[:, t].gather(1, candidates))
        if noise is not None:
            scores = scores + noise[:, t]
        slot = (scores + tables.slot_mask[top]).argmax(dim=1, keepdim=True)
        rule = candidates.gather(1, slot).squeeze(1)
        chosen.append(rule)
        stack.scatter_(1, pointer + push_offsets, tables.push[rule])
        pointer = pointer + tables.push_length[rule].unsqueeze(1)
    return DecodeResult(torch.stack(chosen, dim=1), pointer.squeeze(1) == 1)


def reference_masked_decode(
    logits: torch.Tensor, grammar: Grammar, mode: str = "sample", noise: torch.Tensor | None = None
) -> DecodeResult:
    """The same algorithm as :func:`masked_decode`, one sample and one step at a time."""
    logits_np = finite_logits(logits).numpy()
    noise_np = noise.numpy() if mode == "sample" else None
    allowed = [np.flatnonzero(row) for row in grammar.lhs_mask]
    rhs = grammar.rule_rhs_nonterminals
    batch, steps, _ = logits_np.shape
    rules = np.empty((batch, steps), dtype=np.int64)
    valid = np.empty(batch, dtype=bool)
    for b in range(batch):
        stack = [grammar.start_lhs]
        for t in range(steps):
            top = stack.pop() if stack else grammar.padding_lhs
            candidates = allowed[top]
            scores = logits_np[b, t, candidates]
            if noise_np is not None:
                scores = scores + noise_np[b, t, : len(candidates)]
            rule = int(candidates[np.argmax(scores)])
            rules[b, t] = rule
            stack.extend(reversed(rhs[rule]))
        valid[b] = not stack
    return DecodeResult(torch.from_numpy(rules), torch.from_numpy(valid))
