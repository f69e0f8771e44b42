"""The networks: a 1-D convolutional encoder and two GRU decoders.

Molecules: three convolutions (9/9, 9/9, 10/11) with ReLU, a dense layer of 435, latent 56
(protocol section 4); expressions: convolutions 2/2, 3/3, 4/4 each followed by batch norm,
dense 100, latent 25. Two decoders read a latent code z:

- :class:`RepeatDecoder`, the papers' decoder: Dense(z) → repeat → GRU → linear. Its GRU input is
  the same vector at every step, so the rules it already chose are never fed back.
- :class:`AutoregressiveDecoder`: at step t the GRU reads an embedding of the rule (or
  character) chosen at t − 1, beside a projection of z, and its initial state comes from z. It is
  trained with teacher forcing (the true previous rule) and decoded step by step.

Both give their logits step by step through :meth:`stepper` (an object with ``next`` and
``select``), so one masked-decoding loop and one beam search serve both.
"""

from __future__ import annotations

import torch
from torch import nn

from grammar_rae.models.config import ModelConfig


class Encoder(nn.Module):
    """One-hot sequences (B, T, V) → latent mean (B, d) and, for VAEs, log-variance.

    ``conv``: the papers' convolutions, flattened, then a dense layer. ``gru``: a bidirectional
    GRU over embeddings of the rules up to each sequence's end (the padding rule, the last one,
    is not read), its two final states into the dense layer; the code then does not depend on
    how far a sequence is padded.
    """

    def __init__(self, config: ModelConfig, variational: bool):
        super().__init__()
        self.kind = config.encoder
        if self.kind == "gru":
            self.embedding = nn.Linear(config.vocab_size, config.embedding_dim, bias=False)
            self.forward_gru = nn.GRU(config.embedding_dim, config.encoder_gru_hidden, batch_first=True)
            self.backward_gru = nn.GRU(config.embedding_dim, config.encoder_gru_hidden, batch_first=True)
            features = 2 * config.encoder_gru_hidden
        else:
            layers: list[nn.Module] = []
            channels, length = config.vocab_size, config.max_length
            for filters, kernel in zip(config.conv_filters, config.conv_kernels):
                layers += [nn.Conv1d(channels, filters, kernel), nn.ReLU()]
                if config.conv_batchnorm:
                    layers.append(nn.BatchNorm1d(filters))
                channels, length = filters, length - kernel + 1
            self.convolutions = nn.Sequential(*layers)
            features = channels * length
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(features, config.encoder_hidden), nn.ReLU())
        self.mean = nn.Linear(config.encoder_hidden, config.latent_dim)
        self.log_var = nn.Linear(config.encoder_hidden, config.latent_dim) if variational else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The summary of one-hot sequences that the dense layer reads (flattened there)."""
        if self.kind == "conv":
            return self.convolutions(x.transpose(1, 2))
        # Two plain GRUs over the batch cut to its longest sequence, the second over each sequence
        # reversed within its length (padding stays at the end), each read at the sequence's last
        # rule: a bidirectional reading without packed sequences, which are ~10x slower on CPU.
        lengths = (x.shape[1] - x[:, :, -1].sum(dim=1)).clamp(min=1).long()
        steps = int(lengths.max())
        embedded = self.embedding(x[:, :steps])
        position = torch.arange(steps, device=x.device).expand(len(x), -1)
        inside = position < lengths.unsqueeze(1)
        reversed_order = torch.where(inside, lengths.unsqueeze(1) - 1 - position, position)
        backward = embedded.gather(1, reversed_order.unsqueeze(2).expand_as(embedded))
        last = (lengths - 1).view(-1, 1, 1)
        states = [gru(inputs)[0] for gru, inputs in ((self.forward_gru, embedded), (self.backward_gru, backward))]
        return torch.cat([out.gather(1, last.expand(-1, 1, out.shape[2])).squeeze(1) for out in states], dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        hidden = self.dense(self.features(x))
        return self.mean(hidden), None if self.log_var is None else self.log_var(hidden)


def _latent_input(config: ModelConfig) -> nn.Sequential:
    """[BN(z) →] Dense(z, decoder_dense) → ReLU: the decoder's view of the latent code."""
    layers: list[nn.Module] = [nn.BatchNorm1d(config.latent_dim)] if config.decoder_input_batchnorm else []
    layers += [nn.Linear(config.latent_dim, config.decoder_dense), nn.ReLU()]
    return nn.Sequential(*layers)


class PrecomputedSteps:
    """Step-by-step access to logits computed in one pass (the repeat decoder's)."""

    def __init__(self, logits: torch.Tensor):
        self.logits = logits
        self.t = 0

    def next(self, previous: torch.Tensor | None) -> torch.Tensor:
        """The logits (N, V) of the next step; ``previous`` (the last choices) is not needed."""
        out = self.logits[:, self.t]
        self.t += 1
        return out

    def select(self, index: torch.Tensor) -> None:
        """Keep rows ``index`` (in that order), as beam search reorders its hypotheses."""
        self.logits = self.logits[index]


class RecurrentSteps:
    """Step-by-step decoding of the autoregressive decoder: the GRU state per row."""

    def __init__(self, decoder: AutoregressiveDecoder, z: torch.Tensor):
        self.decoder = decoder
        self.latent = decoder.input(z)
        self.hidden = decoder.initial_state(z)

    def next(self, previous: torch.Tensor | None) -> torch.Tensor:
        """The logits (N, V) of the next step, given the choices (N,) of the last one (None at the start)."""
        if previous is None:
            previous = torch.full(
                (len(self.latent),), self.decoder.start_token, dtype=torch.long, device=self.latent.device
            )
        step_input = torch.cat([self.decoder.embedding(previous), self.latent], dim=1).unsqueeze(1)
        out, self.hidden = self.decoder.gru(step_input, self.hidden)
        return self.decoder.output(out.squeeze(1))

    def select(self, index: torch.Tensor) -> None:
        """Keep rows ``index`` (in that order), as beam search reorders its hypotheses."""
        self.latent = self.latent[index]
        self.hidden = self.hidden[:, index].contiguous()


class RepeatDecoder(nn.Module):
    """Latent codes (B, d) → logits (B, steps, V), with the latent vector as every step's input."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.input = _latent_input(config)
        self.gru = nn.GRU(config.decoder_dense, config.gru_hidden, num_layers=config.gru_layers, batch_first=True)
        self.output = nn.Linear(config.gru_hidden, config.vocab_size)
        self.max_length = config.max_length

    def forward(self, z: torch.Tensor, steps: int) -> torch.Tensor:
        step_input = self.input(z).unsqueeze(1).expand(-1, steps, -1)
        hidden, _ = self.gru(step_input.contiguous())
        return self.output(hidden)

    def teacher_forced(
        self, z: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Training logits (B, T, V); this decoder never looks at the targets (B, T)."""
        return self(z, targets.shape[1])

    def stepper(self, z: torch.Tensor, repeats: int = 1) -> PrecomputedSteps:
        """Step-by-step logits for codes ``z``, each row ``repeats`` times in a row (computed in one
        pass over the maximum length, once per code)."""
        return PrecomputedSteps(self(z, self.max_length).repeat_interleave(repeats, dim=0))


class AutoregressiveDecoder(nn.Module):
    """GRU over [embedding(previous rule) ; ReLU(Dense(z))], initial state tanh(Dense(z))."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.start_token = config.vocab_size  # the extra embedding row read at t = 0 (and for dropped rules)
        self.word_dropout = config.word_dropout
        self.layers, self.hidden_size = config.gru_layers, config.gru_hidden
        self.input = _latent_input(config)
        self.embedding = nn.Embedding(config.vocab_size + 1, config.embedding_dim)
        self.initial = nn.Linear(config.latent_dim, config.gru_layers * config.gru_hidden)
        self.gru = nn.GRU(
            config.embedding_dim + config.decoder_dense,
            config.gru_hidden,
            num_layers=config.gru_layers,
            batch_first=True,
        )
        self.output = nn.Linear(config.gru_hidden, config.vocab_size)

    def initial_state(self, z: torch.Tensor) -> torch.Tensor:
        """The GRU's initial state (layers, B, hidden) from the codes."""
        return torch.tanh(self.initial(z)).view(len(z), self.layers, self.hidden_size).transpose(0, 1).contiguous()

    def teacher_forced(
        self, z: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Training logits (B, T, V): step t reads the true rule of step t − 1 (B, T targets); in
        training, with word dropout, each such rule is the start symbol instead with that chance
        (drawn from ``generator``)."""
        start = torch.full_like(targets[:, :1], self.start_token)
        previous = torch.cat([start, targets[:, :-1]], dim=1)
        if self.training and self.word_dropout > 0:
            drop = torch.rand(previous.shape, generator=generator, device=previous.device) < self.word_dropout
            previous = previous.masked_fill(drop, self.start_token)
        latent = self.input(z).unsqueeze(1).expand(-1, targets.shape[1], -1)
        hidden, _ = self.gru(torch.cat([self.embedding(previous), latent], dim=2), self.initial_state(z))
        return self.output(hidden)

    def stepper(self, z: torch.Tensor, repeats: int = 1) -> RecurrentSteps:
        """Step-by-step logits for codes ``z``, each row ``repeats`` times in a row; each step
        needs the choices of the one before."""
        return RecurrentSteps(self, z.repeat_interleave(repeats, dim=0))


DECODER_CLASSES = {"repeat": RepeatDecoder, "autoregressive": AutoregressiveDecoder}
