"""Loss terms, computed in log space so that extreme logits never give NaN.

Reconstruction: the masked softmax of protocol section 5 as a categorical cross-entropy. At
step t only the rules whose left-hand side is that of the true rule are allowed (teacher-forced
mask); the others get -inf before the log-softmax. Padding and forced steps have a single
allowed rule, so their loss and gradient are exactly zero and truncating a batch to its longest
real sequence changes nothing. The sum over steps is divided by the number of rules, as the
reference's binary cross-entropy over steps × rules was, so the balance with the KL term
(averaged over latent dimensions, as in the reference) is kept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def reconstruction_terms(
    logits: torch.Tensor, targets: torch.Tensor, rule_masks: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample reconstruction loss (B,) and whether the masked argmax matches every step (B,).

    ``logits`` (B, T, V); ``targets`` (B, T) true indices; ``rule_masks`` (V, V) boolean, row r
    the rules allowed where r is the truth (None for character models: no mask).
    """
    logits = _masked(logits, targets, rule_masks)
    log_probs = F.log_softmax(logits, dim=-1)
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    exact = (logits.argmax(dim=-1) == targets).all(dim=1)
    return nll.sum(dim=1) / logits.shape[-1], exact


def argmax_margin_terms(
    logits: torch.Tensor, targets: torch.Tensor, rule_masks: torch.Tensor | None = None, margin: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample hinge loss (B,) that is zero once the true index leads every other allowed one by
    ``margin`` in logits at every step, and the smallest lead over the steps (B,; positive where the
    masked argmax matches every step, +inf where every step is forced).

    What greedy decoding needs is the argmax, not the probability: unlike the cross-entropy this
    loss stops pulling at steps already won and spends the gradient on those lost (the code
    refinement of ``generation.refinement``). Arguments as for :func:`reconstruction_terms`.
    """
    logits = _masked(logits, targets, rule_masks)
    true = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    rival = logits.scatter(-1, targets.unsqueeze(-1), -torch.inf).amax(dim=-1)  # -inf at forced steps
    hinge = torch.clamp(rival - true + margin, min=0.0)
    return hinge.sum(dim=1), (true - rival).amin(dim=1).detach()


def _masked(logits: torch.Tensor, targets: torch.Tensor, rule_masks: torch.Tensor | None) -> torch.Tensor:
    """Float logits with the rules not allowed where the truth is ``targets`` set to -inf."""
    logits = logits.float()
    return logits if rule_masks is None else logits.masked_fill(~rule_masks[targets], -torch.inf)


def kl_to_standard_normal(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) ‖ N(0, I)) averaged over latent dimensions, per sample (B,)."""
    return -0.5 * torch.mean(1 + log_var - mean.pow(2) - log_var.exp(), dim=1)


def half_squared_norm(z: torch.Tensor) -> torch.Tensor:
    """½‖z‖² averaged over latent dimensions, per sample (B,)."""
    return 0.5 * z.pow(2).mean(dim=1)
