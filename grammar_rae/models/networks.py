"""The reference networks: a 1-D convolutional encoder and a non-autoregressive GRU decoder.

Molecules: three convolutions (9/9, 9/9, 10/11) with ReLU, a dense layer of 435, latent 56,
and a decoder Dense(latent) → repeat → 3 × GRU 501 → linear. Expressions: convolutions
2/2, 3/3, 4/4 each followed by batch norm, dense 100, latent 25, and a decoder
BN(z) → Dense(25) → repeat → 3 × GRU 100 → linear (protocol section 4). The decoder's GRU
input is the same vector at every step: generated rules are never fed back.
"""

from __future__ import annotations

import torch
from torch import nn

from grammar_rae.models.config import ModelConfig


class Encoder(nn.Module):
    """One-hot sequences (B, T, V) → latent mean (B, d) and, for VAEs, log-variance."""

    def __init__(self, config: ModelConfig, variational: bool):
        super().__init__()
        layers: list[nn.Module] = []
        channels, length = config.vocab_size, config.max_length
        for filters, kernel in zip(config.conv_filters, config.conv_kernels):
            layers += [nn.Conv1d(channels, filters, kernel), nn.ReLU()]
            if config.conv_batchnorm:
                layers.append(nn.BatchNorm1d(filters))
            channels, length = filters, length - kernel + 1
        self.convolutions = nn.Sequential(*layers)
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(channels * length, config.encoder_hidden), nn.ReLU())
        self.mean = nn.Linear(config.encoder_hidden, config.latent_dim)
        self.log_var = nn.Linear(config.encoder_hidden, config.latent_dim) if variational else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        hidden = self.dense(self.convolutions(x.transpose(1, 2)))
        return self.mean(hidden), None if self.log_var is None else self.log_var(hidden)


class Decoder(nn.Module):
    """Latent codes (B, d) → logits (B, steps, V), with the latent vector as every step's input."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm1d(config.latent_dim)] if config.decoder_input_batchnorm else []
        layers += [nn.Linear(config.latent_dim, config.decoder_dense), nn.ReLU()]
        self.input = nn.Sequential(*layers)
        self.gru = nn.GRU(config.decoder_dense, config.gru_hidden, num_layers=config.gru_layers, batch_first=True)
        self.output = nn.Linear(config.gru_hidden, config.vocab_size)

    def forward(self, z: torch.Tensor, steps: int) -> torch.Tensor:
        step_input = self.input(z).unsqueeze(1).expand(-1, steps, -1)
        hidden, _ = self.gru(step_input.contiguous())
        return self.output(hidden)
