"""Model configuration: one dataclass that builds any of the four models and is saved with
every checkpoint; presets (``paper``, ``cpu``) and per-model defaults are data in
``data/presets.json``.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, fields
from functools import lru_cache

from grammar_rae.errors import GrammarRAEError
from grammar_rae.resources import shipped

MODELS = ("grae", "gvae", "gcvae", "cvae")
REGULARISERS = ("l2", "gp", "sn", "none")
DECODERS = ("repeat", "autoregressive")
ENCODERS = ("conv", "gru")


@lru_cache(maxsize=1)
def presets() -> dict:
    """The contents of ``data/presets.json``."""
    return json.loads((shipped("grammar_rae.datafiles") / "presets.json").read_text())


def preset_names() -> list[str]:
    """The architecture/training presets (``paper``, ``cpu``)."""
    return [name for name in presets() if name != "models"]


def shipped_recipe(grammar_name: str) -> tuple[str, str, str]:
    """(preset, model, name) of the model the package ships for a grammar, the recipe ``train``
    follows when no preset is given: ``pretrained/defaults.json`` names the shipped model and its
    ``config.json`` says how it was trained, so shipping a new model moves the default with it."""
    root = shipped("grammar_rae.pretrained")
    name = json.loads((root / "defaults.json").read_text()).get(grammar_name)
    if name is None:
        raise GrammarRAEError(
            f"No model is shipped for the {grammar_name} grammar, so there is no default recipe: "
            f"pass --preset ({', '.join(preset_names())})."
        )
    config = json.loads((root / name / "config.json").read_text())
    return config["preset"], config["model"]["model"], name


def preset_epoch_minutes(preset: str, grammar_name: str) -> float | None:
    """Minutes per training epoch measured on the reference machine (one thread of a 2-core
    CPU; ``benchmarks/preset_epoch_time.py``), or None where not measured."""
    return presets()[preset].get("epoch_minutes", {}).get(grammar_name)


def preset_settings(preset: str, grammar_name: str) -> dict:
    """The settings of ``preset`` for a grammar (architecture and training values)."""
    if preset not in preset_names():
        raise GrammarRAEError(f"Unknown preset '{preset}': use one of {', '.join(preset_names())}.")
    if grammar_name not in presets()[preset]:
        raise GrammarRAEError(f"Preset '{preset}' has no settings for the {grammar_name} grammar.")
    return dict(presets()[preset][grammar_name])


def settings_from_dict(cls: type, values: dict, what: str):
    """Build the settings dataclass ``cls`` from plain values; unknown or missing keys are a
    clear error (for example a config.json written by another version)."""
    names = {f.name for f in fields(cls)}
    required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    unknown, missing = set(values) - names, required - set(values)
    if unknown or missing:
        detail = "; ".join(
            p
            for p in (
                f"unknown: {', '.join(sorted(unknown))}" if unknown else "",
                f"missing: {', '.join(sorted(missing))}" if missing else "",
            )
            if p
        )
        raise GrammarRAEError(f"The {what} settings do not fit this version of grammar-rae ({detail}).")
    return cls(**values)


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model.

    ``vocab_size`` is the number of production rules (grammar models) or characters (``cvae``);
    ``max_length`` the sequence length the encoder reads. ``noise_std`` is the
    reparameterisation noise scale (GVAE/CVAE, reference 0.01) or the fixed σ (GCVAE). The
    latent penalty weight is ``beta`` (KL for the VAEs, ½‖z‖²/d for GCVAE and GRAE); ``lam``
    weighs GRAE's regulariser ``reg``. ``decoder`` is ``repeat`` (the papers': z at every step)
    or ``autoregressive`` (each step also reads an ``embedding_dim`` embedding of the rule chosen
    before); configs written before the autoregressive decoder existed load as ``repeat``.
    ``encoder`` is ``conv`` (the papers' convolutions) or ``gru`` (a bidirectional GRU of width
    ``encoder_gru_hidden`` over ``embedding_dim`` embeddings of the rules, grammar models only).
    ``word_dropout`` is the chance that, in training, the autoregressive decoder reads the start
    symbol instead of the previous rule (Bowman et al., 2016), so that it must take more from z.
    Configs written before these settings existed load as ``conv`` and 0.
    """

    model: str
    grammar: str
    vocab_size: int
    max_length: int
    latent_dim: int
    conv_filters: list[int]
    conv_kernels: list[int]
    conv_batchnorm: bool
    encoder_hidden: int
    decoder_input_batchnorm: bool
    decoder_dense: int
    gru_hidden: int
    gru_layers: int
    noise_std: float
    beta: float
    lam: float
    reg: str
    decoder: str = "repeat"
    embedding_dim: int = 48
    encoder: str = "conv"
    encoder_gru_hidden: int = 256
    word_dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise GrammarRAEError(f"Unknown model '{self.model}': use one of {', '.join(MODELS)}.")
        if self.reg not in REGULARISERS:
            raise GrammarRAEError(f"Unknown regulariser '{self.reg}': use one of {', '.join(REGULARISERS)}.")
        if self.decoder not in DECODERS:
            raise GrammarRAEError(f"Unknown decoder '{self.decoder}': use one of {', '.join(DECODERS)}.")
        if self.encoder not in ENCODERS:
            raise GrammarRAEError(f"Unknown encoder '{self.encoder}': use one of {', '.join(ENCODERS)}.")
        if self.encoder == "gru" and not self.is_grammar_model:
            raise GrammarRAEError("The GRU encoder reads production rules: it needs a grammar model, not cvae.")
        if not 0.0 <= self.word_dropout < 1.0:
            raise GrammarRAEError(f"The word dropout must be at least 0 and below 1, not {self.word_dropout}.")
        if self.word_dropout > 0 and self.decoder != "autoregressive":
            raise GrammarRAEError("Word dropout needs the autoregressive decoder (the repeat decoder reads no rules).")
        if self.embedding_dim < 1:
            raise GrammarRAEError(f"The embedding size must be at least 1, not {self.embedding_dim}.")
        if len(self.conv_filters) != len(self.conv_kernels):
            raise GrammarRAEError(
                f"The conv encoder has {len(self.conv_kernels)} convolutions, so it needs {len(self.conv_kernels)} "
                f"filter counts, not {len(self.conv_filters)}."
            )
        if self.max_length - sum(k - 1 for k in self.conv_kernels) < 1:
            raise GrammarRAEError(
                f"Sequences of length {self.max_length} are too short for the encoder's convolutions."
            )

    @property
    def is_grammar_model(self) -> bool:
        """True for the grammar models (masked decoding over productions)."""
        return self.model != "cvae"

    def to_dict(self) -> dict:
        """Plain JSON-able values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """Rebuild from :meth:`to_dict` output."""
        return settings_from_dict(cls, values, "model")

    @classmethod
    def from_preset(
        cls, model: str, grammar_name: str, vocab_size: int, max_length: int, preset: str = "paper", **overrides
    ) -> ModelConfig:
        """A config from a preset and the per-model defaults.

        Args:
            model: ``cvae``, ``gvae``, ``gcvae`` or ``grae``.
            grammar_name: which grammar's preset settings apply.
            vocab_size: rules (or characters) per step.
            max_length: steps per sequence.
            preset: a preset's name (see ``preset_names``).
            **overrides: settings that replace the preset's.
        """
        if model not in MODELS:
            raise GrammarRAEError(f"Unknown model '{model}': use one of {', '.join(MODELS)}.")
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in preset_settings(preset, grammar_name).items() if k in names}
        values.update(presets()["models"][model])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(
            {**values, "model": model, "grammar": grammar_name, "vocab_size": vocab_size, "max_length": max_length}
        )
