"""Codes that decode back: moving an encoder's code until greedy decoding returns its string.

The encoder places a molecule near the codes the decoder reads it from, but greedy decoding of
that code gives the molecule back only rarely (0.02 of test molecules on the shipped model: a few
wrong choices among a molecule's ~130 are enough, docs/latent-space.md). With the decoder fixed,
each code is refined by Adam on a hinge loss that asks the true rule to lead every other allowed
rule at every step (``models.losses.argmax_margin_terms``); a string's code stops moving as soon as
greedy decoding of it gives the string back, so it stays as near the encoder's code as the
decoder allows. Chosen by measurement (hinge against cross-entropy, step sizes): docs/latent-space.md,
"Codes that decode back".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from grammar_rae.models.autoencoders import Autoencoder
from grammar_rae.models.losses import argmax_margin_terms

REFINE_STEPS = 800  # Adam steps at most per code (the first budget to give 0.6 of test molecules back)
REFINE_LR = 0.1  # Adam's step size (codes have norm ≈ 2.6 on the shipped model)
REFINE_MARGIN = 0.3  # logits by which the true rule must lead for the hinge to be zero (docs/latent-space.md)
SAFE_LEAD = 1e-3  # a code counts as decoding back once the true rule leads by this much at every step,
# so that rounding the code (JSON keeps 6 decimals) or another summation order cannot turn a choice


def refine_codes(
    network: Autoencoder,
    codes: np.ndarray,
    targets: np.ndarray,
    lengths: np.ndarray | None,
    steps: int = REFINE_STEPS,
    lr: float = REFINE_LR,
    batch_size: int = 250,
    advance: Callable[[int], object] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Refined codes (N, d) and whether greedy decoding of each gives its sequence back (N,).

    Args:
        network: the trained autoencoder (left unchanged, in the mode it was in).
        codes: the starting codes (N, d), usually the encoder's.
        targets: the sequences' index rows (N, T), padded.
        lengths: the real lengths (N,) to which a chunk is cut (steps after a grammar model's
            derivation ends do not matter), or None to score every step (character models).
        steps: Adam steps at most; 0 only checks the codes as given.
        lr: Adam's step size.
        batch_size: codes refined together.
        advance: told the number of codes done after each chunk (for a progress bar).
    """
    device = next(network.parameters()).device
    out = np.array(codes, dtype=np.float32, copy=True)
    back = np.zeros(len(out), dtype=bool)
    with _frozen(network):
        for start in range(0, len(out), batch_size):
            rows = slice(start, start + batch_size)
            width = targets.shape[1] if lengths is None else max(1, int(lengths[rows].max()))
            truth = torch.as_tensor(targets[rows, :width], dtype=torch.long, device=device)
            out[rows], back[rows] = _refine_chunk(network, torch.as_tensor(out[rows], device=device), truth, steps, lr)
            if advance is not None:
                advance(len(truth))
    return out, back


def _refine_chunk(
    network: Autoencoder, z: torch.Tensor, truth: torch.Tensor, steps: int, lr: float
) -> tuple[np.ndarray, np.ndarray]:
    """Adam on the codes of one chunk; a code found to decode back is kept as it was then."""
    z = z.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    back = torch.zeros(len(z), dtype=torch.bool, device=z.device)
    kept = z.detach().clone()
    for step in range(steps + 1):
        todo = torch.nonzero(~back).squeeze(1)
        loss, lead = argmax_margin_terms(
            network.decoder.teacher_forced(z[todo], truth[todo]), truth[todo], network.rule_masks, REFINE_MARGIN
        )
        exact = lead > SAFE_LEAD
        won = todo[exact]
        kept[won] = z.detach()[won]
        back[won] = True
        if step == steps or bool(back.all()):
            break
        optimizer.zero_grad(set_to_none=True)
        loss[~exact].sum().backward()
        optimizer.step()
        with torch.no_grad():  # Adam's momentum would move codes that have no gradient any more
            z[back] = kept[back]
    final = torch.where(back.unsqueeze(1), kept, z.detach())
    return final.float().cpu().numpy(), back.cpu().numpy()


@contextmanager
def _frozen(network: Autoencoder) -> Iterator[None]:
    """The network in evaluation mode with no gradient kept for its weights; restored afterwards."""
    training, needs = network.training, [p.requires_grad for p in network.parameters()]
    network.eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    try:
        with torch.enable_grad():
            yield
    finally:
        for parameter, need in zip(network.parameters(), needs):
            parameter.requires_grad_(need)
        network.train(training)
