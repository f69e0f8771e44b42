"""The four models: CVAE, GVAE, GCVAE and GrammarRAE, sharing the encoder and decoder.

- ``gvae``/``cvae`` (:class:`VAE`): z = μ + σ(x)·ε with ε ~ N(0, noise_std²) (the reference
  uses 0.01), plus the KL to N(0, I). ``cvae`` decodes characters without a grammar mask.
- ``gcvae`` (:class:`ConstantVarianceVAE`): z = μ(x) + ε, ε ~ N(0, noise_std²) fixed; the KL
  reduces to ½‖μ‖² (averaged over dimensions).
- ``grae`` (:class:`RAE`): deterministic z = E(x); loss L_REC + β·½‖z‖² + λ·L_REG with L_REG
  decoder weight decay (``l2``), a gradient penalty ‖∇_z D(z)‖² (``gp``), or spectral
  normalisation of the decoder's layers (``sn``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from grammar_rae.models.config import ModelConfig
from grammar_rae.models.losses import half_squared_norm, kl_to_standard_normal, reconstruction_terms
from grammar_rae.models.networks import DECODER_CLASSES, Encoder, PrecomputedSteps, RecurrentSteps


@dataclass
class LossTerms:
    """One batch's loss: ``total`` to minimise, and its parts (means over the batch)."""

    total: torch.Tensor
    reconstruction: torch.Tensor
    latent: torch.Tensor
    regulariser: torch.Tensor
    exact: torch.Tensor  # (B,) whether the teacher-forced masked argmax reconstructs the sequence


class Autoencoder(nn.Module):
    """Encoder + decoder + loss; subclasses define how z is drawn and penalised."""

    variational = False  # the encoder has a log-variance head
    stochastic = False  # the code the decoder sees during training is a random draw

    def __init__(self, config: ModelConfig, rule_masks: np.ndarray | None = None):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config, self.variational)
        self.decoder = DECODER_CLASSES[config.decoder](config)
        masks = None if rule_masks is None else torch.as_tensor(rule_masks, dtype=torch.bool)
        self.register_buffer("rule_masks", masks, persistent=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic latent codes (the mean for the VAEs) of one-hot sequences (B, T, V)."""
        return self.encoder(x)[0]

    def stepper(self, z: torch.Tensor, repeats: int = 1) -> PrecomputedSteps | RecurrentSteps:
        """The decoder's logits for latent codes (B, d), each repeated ``repeats`` times, one step
        at a time (see models.networks)."""
        return self.decoder.stepper(z, repeats)

    def draw(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One draw of the encoder's distribution over z for each input, as used in training
        (the code itself for deterministic models); reconstruction accuracy encodes with it."""
        return self.encode(x)

    def latent(self, x: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent codes used for reconstruction during training, and their penalty (B,)."""
        raise NotImplementedError

    def regulariser(self, z: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """The extra regulariser L_REG (a scalar); none by default."""
        return logits.new_zeros(())

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor, steps: int, generator: torch.Generator | None = None
    ) -> LossTerms:
        """Loss of a batch: one-hot inputs (B, T, V), target indices (B, ≥steps), decoded steps."""
        z, penalty = self.latent(x, generator)
        logits = self.decoder.teacher_forced(z, targets[:, :steps], generator)
        rec, exact = reconstruction_terms(logits, targets[:, :steps], self.rule_masks)
        reg = self.regulariser(z, logits)
        total = rec.mean() + self.config.beta * penalty.mean() + self.config.lam * reg
        return LossTerms(total, rec.mean(), penalty.mean(), reg, exact)

    def _noise(self, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)


class VAE(Autoencoder):
    """Grammar VAE (``gvae``) and character VAE (``cvae``)."""

    variational = True
    stochastic = True

    def _reparameterise(self, mean, log_var, generator):
        return mean + torch.exp(0.5 * log_var) * self._noise(mean, generator) * self.config.noise_std

    def draw(self, x, generator=None):
        return self._reparameterise(*self.encoder(x), generator)

    def latent(self, x, generator):
        mean, log_var = self.encoder(x)
        z = self._reparameterise(mean, log_var, generator) if self.training else mean
        return z, kl_to_standard_normal(mean, log_var)


class ConstantVarianceVAE(Autoencoder):
    """Grammar constant-variance VAE (``gcvae``): fixed σ = noise_std."""

    stochastic = True

    def _perturb(self, mean, generator):
        return mean + self._noise(mean, generator) * self.config.noise_std

    def draw(self, x, generator=None):
        return self._perturb(self.encode(x), generator)

    def latent(self, x, generator):
        mean = self.encode(x)
        z = self._perturb(mean, generator) if self.training else mean
        return z, half_squared_norm(mean)


class RAE(Autoencoder):
    """Grammar regularised autoencoder (``grae``), deterministic."""

    def __init__(self, config: ModelConfig, rule_masks: np.ndarray | None = None):
        super().__init__(config, rule_masks)
        if config.reg == "sn":
            for layer in self.decoder.modules():
                if isinstance(layer, nn.Linear):
                    spectral_norm(layer)
            for k in range(config.gru_layers):
                spectral_norm(self.decoder.gru, name=f"weight_ih_l{k}")
                spectral_norm(self.decoder.gru, name=f"weight_hh_l{k}")

    def latent(self, x, generator):
        z = self.encode(x)
        return z, half_squared_norm(z)

    def regulariser(self, z, logits):
        if self.config.reg == "l2":
            return sum(p.pow(2).sum() for name, p in self.decoder.named_parameters() if "weight" in name)
        if self.config.reg == "gp" and self.training:
            # ‖∇_z D(z)‖²_F estimated with one random projection v: E_v ‖∇_z (vᵀ D(z))‖² = ‖J‖²_F.
            projection = torch.randn_like(logits)
            (gradient,) = torch.autograd.grad((logits * projection).sum(), z, create_graph=True)
            return gradient.pow(2).sum(dim=1).mean()
        return super().regulariser(z, logits)


_CLASSES = {"grae": RAE, "gvae": VAE, "gcvae": ConstantVarianceVAE, "cvae": VAE}


def is_variational(model: str) -> bool:
    """Whether the model of this name (``grae``, ``gvae``, ...) encodes to a distribution."""
    return _CLASSES[model].variational


def build_model(config: ModelConfig, rule_masks: np.ndarray | None = None) -> Autoencoder:
    """The model named by ``config.model``; grammar models need the grammar's ``rule_masks``."""
    if config.is_grammar_model and rule_masks is None:
        raise ValueError("Grammar models need the grammar's rule masks.")
    return _CLASSES[config.model](config, rule_masks if config.is_grammar_model else None)
