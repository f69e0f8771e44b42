"""A trained model loaded from its run folder, with string-level ``encode`` and ``decode``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from grammar_rae.data.sequences import one_hot_rows
from grammar_rae.generation.decoding import DecodingTables, gumbel_noise, masked_decode
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.grammar.charset import CharCodec
from grammar_rae.grammar.codec import Codec
from grammar_rae.models.autoencoders import Autoencoder, build_model
from grammar_rae.models.config import ModelConfig
from grammar_rae.training import run_folder as rf
from grammar_rae.training.api import select_device


class TrainedModel:
    """A model with its grammar and codec, ready to encode strings and decode latent points."""

    def __init__(self, network: Autoencoder, grammar: Grammar, device: torch.device, folder: Path | None = None):
        self.network = network.to(device).eval()
        self.grammar = grammar
        self.device = device
        self.folder = folder
        self.config: ModelConfig = network.config
        if self.config.is_grammar_model:
            self.codec = Codec(grammar, self.config.max_length)
            self.tables = DecodingTables(grammar, device)
        else:
            self.codec = CharCodec(grammar, self.config.max_length)

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> "TrainedModel":
        """Load the best-validation weights of a run folder (safely: tensors only)."""
        folder = Path(folder)
        saved = rf.read_config(folder)
        grammar = Grammar.load(saved["grammar"])
        if grammar.hash != saved["grammar_hash"]:
            raise rf.RunError(f"{folder} was trained with a different {grammar.name} grammar than the one installed.")
        config = ModelConfig.from_dict(saved["model"])
        network = build_model(config, grammar.rule_masks)
        if not (folder / rf.WEIGHTS).exists():
            raise rf.RunError(f"{folder} has no trained model yet ({rf.WEIGHTS} appears after the first epoch).")
        try:
            network.load_state_dict(rf.load_tensors(folder / rf.WEIGHTS))
        except RuntimeError as exc:
            raise rf.RunError(f"The weights in {folder} do not match its config.json.") from exc
        return cls(network, grammar, select_device(device), folder)

    @property
    def latent_dim(self) -> int:
        """Size of the latent space."""
        return self.config.latent_dim

    def _indices(self, strings: list[str]) -> tuple[np.ndarray, dict[int, str]]:
        if self.config.is_grammar_model:
            batch = self.codec.encode_batch(strings)
            return batch.indices, batch.errors
        return self.codec.encode_batch(strings)

    @torch.no_grad()
    def encode(self, strings: list[str], batch_size: int = 1000) -> tuple[np.ndarray, dict[int, str]]:
        """Latent codes (N, d) of ``strings`` (the mean for VAEs) and row → error for strings
        that could not be encoded (their rows are NaN)."""
        indices, errors = self._indices(list(strings))
        codes = np.full((len(indices), self.latent_dim), np.nan, dtype=np.float32)
        ok = np.setdiff1d(np.arange(len(indices)), list(errors))
        for start in range(0, len(ok), batch_size):
            rows = ok[start : start + batch_size]
            x, _ = one_hot_rows(indices, rows, self.config.vocab_size, self.device)
            codes[rows] = self.network.encode(x).float().cpu().numpy()
        return codes, errors

    @torch.no_grad()
    def decode(
        self, z: np.ndarray | torch.Tensor, mode: str = "argmax", generator: torch.Generator | None = None, batch_size: int = 1000
    ) -> list[str | None]:
        """Strings decoded from latent points (N, d); None where decoding gives no valid string
        of the grammar. ``mode`` is ``argmax`` or ``sample`` (Gumbel-max, from ``generator``)."""
        z = torch.as_tensor(np.asarray(z, dtype=np.float32)).to(self.device)
        out: list[str | None] = []
        for start in range(0, len(z), batch_size):
            logits = self.network.decode(z[start : start + batch_size]).float()
            if self.config.is_grammar_model:
                result = masked_decode(logits, self.tables, mode=mode, generator=generator)
                rules = result.rules.cpu().numpy()
                out += [self.codec.decode(r) if ok else None for r, ok in zip(rules, result.valid.tolist())]
            else:
                scores = logits if mode == "argmax" else logits + gumbel_noise(logits.shape, generator, logits.device)
                out += [self.codec.decode(row) for row in scores.argmax(dim=-1).cpu().numpy()]
        return out
