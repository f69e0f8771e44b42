"""A trained model loaded from its run folder, with string-level ``encode`` and ``decode``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from grammar_rae import run_folder as rf
from grammar_rae.data.domains import domain_of
from grammar_rae.data.prepare import run_data_at_hand
from grammar_rae.data.sequences import one_hot_rows
from grammar_rae.errors import GrammarRAEError
from grammar_rae.generation import pretrained
from grammar_rae.generation.decoding import DecodingTables, beam_decode, char_decode, masked_decode
from grammar_rae.generation.refinement import REFINE_LR, REFINE_STEPS, refine_codes
from grammar_rae.grammar.cfg import Grammar
from grammar_rae.grammar.charset import CharCodec
from grammar_rae.grammar.codec import Codec
from grammar_rae.grammar.constraints import constraints_wanted, make_constraints
from grammar_rae.models.autoencoders import Autoencoder, build_model
from grammar_rae.models.config import ModelConfig
from grammar_rae.progress import progress_bar
from grammar_rae.run_folder import RunData, RunFolder, select_device, weights_digest


def find_run(spec: str | Path | None = None, root: str | Path = "runs", grammar: str | None = None) -> Path:
    """The run folder a ``--model`` value names (a folder or ``pretrained:NAME``); None means the
    most recently trained run in ``root`` (of ``grammar``, when given), and without one the
    shipped model for that grammar (molecules when none is given)."""
    if isinstance(spec, str) and spec.startswith(pretrained.PREFIX):
        return pretrained.pretrained_folder(spec)
    if spec is not None:
        return Path(spec)
    runs = sorted(Path(root).glob(f"*/{rf.WEIGHTS}"), key=lambda p: p.stat().st_mtime) if Path(root).is_dir() else []
    runs = [r.parent for r in runs if grammar is None or _run_grammar(r.parent) == grammar]
    if runs:
        return runs[-1]
    shipped = pretrained.default_folder(grammar or "smiles")
    if shipped is None:
        raise rf.RunError(
            f"No trained {grammar + ' ' if grammar else ''}run found in {root}/: train one with "
            "`grammar-rae train`, or pass --model RUN_FOLDER."
        )
    return shipped


def _run_grammar(folder: Path) -> str | None:
    try:
        return rf.read_config(folder).get("grammar")
    except rf.RunError:
        return None


NEAREST_TEMPERATURE = 0.5  # the candidates of nearest decoding (docs/latent-space.md)


class TrainedModel:
    """A model with its grammar and codec, ready to encode strings and decode latent points."""

    def __init__(
        self,
        network: Autoencoder,
        grammar: Grammar,
        device: torch.device,
        folder: Path | None = None,
        constraints: str = "auto",
        kekule: bool = False,
    ):
        self.network = network.to(device).eval()
        constraints_wanted(constraints, grammar)  # refuses a bad setting at once
        self.constraints = constraints  # ``auto``: the grammar's semantic constraints during decoding; ``none``
        self.grammar = grammar
        self.device = device
        self.folder = folder
        self.run = None if folder is None else RunFolder(folder)  # where each of its files is
        self.work_folder = None if folder is None else self.run.work  # where results go
        self._data: RunData | None = None
        self.config: ModelConfig = network.config
        self.kekule = kekule  # the training strings were Kekulé SMILES: inputs are rewritten so
        self.domain = domain_of(grammar)  # the language: validity, input form, file suffix
        self._form = self.domain.input_form(kekule)
        if self.config.is_grammar_model:
            self.codec = Codec(grammar, self.config.max_length)
            self.tables = DecodingTables(grammar, device)
        else:
            self.codec = CharCodec(grammar, self.config.max_length)

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto", constraints: str = "auto") -> TrainedModel:
        """Load the best-validation weights of a run folder or ``pretrained:NAME`` (safely: tensors
        only); ``constraints`` is the default for every decode (``auto`` or ``none``)."""
        folder = find_run(folder)
        saved = rf.read_config(folder)
        grammar = Grammar.load(saved["grammar"])
        if grammar.hash != saved["grammar_hash"]:
            raise rf.RunError(f"{folder} was trained with a different {grammar.name} grammar than the one installed.")
        config = ModelConfig.from_dict(saved["model"])
        network = build_model(config, grammar.rule_masks)
        weights = RunFolder(folder).weights_source()
        if not weights.exists():
            raise rf.RunError(f"{folder} has no trained model yet ({rf.WEIGHTS} appears after the first epoch).")
        try:
            network.load_state_dict(rf.load_tensors(weights))
        except RuntimeError as exc:
            raise rf.RunError(f"The weights in {folder} do not match its config.json.") from exc
        return cls(
            network, grammar, select_device(device), folder, constraints, bool(saved["data"].get("kekule", False))
        )

    @property
    def weights_id(self) -> str:
        """The first 16 hex digits of the weights' sha256: which model made a result, whatever its folder is called."""
        return weights_digest(self.network.state_dict())[:16]

    @property
    def latent_dim(self) -> int:
        """Size of the latent space."""
        return self.config.latent_dim

    @property
    def data_at_hand(self) -> bool:
        """Whether the run's training data can be had without a download (see ``run_data_at_hand``)."""
        return self.folder is not None and run_data_at_hand(self.grammar, rf.read_config(self.folder)["data"])

    @property
    def data(self) -> RunData:
        """The run's data set and splits (prepared on first use)."""
        if self._data is None:
            if self.folder is None:
                raise rf.RunError("This model has no run folder, so it has no training data.")
            self._data = RunData.of(self.folder)
        return self._data

    @property
    def input_form(self) -> str | None:
        """What user strings are rewritten to before parsing (None: they are read as written)."""
        return None if self._form is None else self.domain.input_form_name(self.kekule)

    def in_model_form(self, strings: list[str]) -> tuple[list[str], dict[int, str]]:
        """``strings`` rewritten into the form of the model's training strings (for molecules,
        RDKit's canonical Kekulé or aromatic SMILES, so every spelling of a molecule gets one
        code), and row → error for those that are no molecule (their row is kept as given)."""
        if self._form is None:
            return list(strings), {}
        forms, errors = [], {}
        for i, text in enumerate(strings):
            form = self._form(text) if text.strip() else text  # the parser names an empty string itself
            if form is None:
                errors[i] = f"{text!r} is not a molecule: RDKit cannot read it."
            forms.append(text if form is None else form)
        return forms, errors

    def read(self, strings: list[str]) -> tuple[list[str], np.ndarray, dict[int, str]]:
        """``strings`` in the model's form (:meth:`in_model_form`), their padded index rows
        (productions or characters) and row → error."""
        forms, errors = self.in_model_form(strings)
        if self.config.is_grammar_model:
            batch = self.codec.encode_batch(forms)
            indices, parse_errors = batch.indices, batch.errors
        else:
            indices, parse_errors = self.codec.encode_batch(forms)
        return forms, indices, parse_errors | errors

    def sequence_indices(self, strings: list[str]) -> tuple[np.ndarray, dict[int, str]]:
        """The model's padded index rows of ``strings``, read in the model's form, and row → error."""
        _, indices, errors = self.read(strings)
        return indices, errors

    @torch.no_grad()
    def encode_indices(
        self,
        indices: np.ndarray,
        rows: np.ndarray,
        draw: bool,
        generator: torch.Generator | None,
        batch_size: int,
    ) -> np.ndarray:
        """Latent codes of some rows of an index array.

        Args:
            indices: the production (or character) index rows of a data set.
            rows: which rows to encode.
            draw: draw from a stochastic encoder instead of taking its mean.
            generator: the random draws' source.
            batch_size: rows encoded at once.
        """
        codes = np.empty((len(rows), self.latent_dim), dtype=np.float32)
        one_batch = len(rows) <= batch_size  # a moment's work: no bar
        with progress_bar(
            total=len(rows), desc="encoding", unit=" strings", enabled=False if one_batch else None
        ) as bar:
            for start in range(0, len(rows), batch_size):
                x, _ = one_hot_rows(indices, rows[start : start + batch_size], self.config.vocab_size, self.device)
                z = self.network.draw(x, generator) if draw else self.network.encode(x)
                codes[start : start + len(z)] = z.float().cpu().numpy()
                bar.update(len(z))
        return codes

    def encode(
        self, strings: list[str], draw: bool = False, generator: torch.Generator | None = None, batch_size: int = 1000
    ) -> tuple[np.ndarray, dict[int, str]]:
        """Latent codes (N, d) of ``strings`` and row → error for strings that could not be
        encoded (their rows are NaN). The code is the mean for VAEs; ``draw`` instead draws from
        the encoder's distribution as in training (from ``generator``)."""
        _, codes, _, errors = self._encoded(strings, draw, generator, batch_size)
        return codes, errors

    def _encoded(
        self, strings: list[str], draw: bool, generator: torch.Generator | None, batch_size: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, str]]:
        """Index rows, codes (NaN where not encoded), the rows encoded and row → error of ``strings``."""
        indices, errors = self.sequence_indices(list(strings))
        codes = np.full((len(indices), self.latent_dim), np.nan, dtype=np.float32)
        ok = np.setdiff1d(np.arange(len(indices)), list(errors))
        codes[ok] = self.encode_indices(indices, ok, draw, generator, batch_size)
        return indices, codes, ok, errors

    def encode_refined(
        self, strings: list[str], steps: int = REFINE_STEPS, lr: float = REFINE_LR
    ) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
        """Codes (N, d) that greedy decoding (``decode(z, "argmax")``) turns back into their strings
        where the decoder allows, whether each does (N,), and row → error (rows NaN, False).

        Each encoder code is moved by at most ``steps`` Adam steps of size ``lr`` with the decoder
        fixed, and stops where greedy decoding first gives its string back (``generation.refinement``):
        about 0.01 CPU-seconds a string per step on the shipped model. ``steps=0`` returns the
        encoder's codes, with whether each decodes back as it is.
        """
        indices, codes, ok, errors = self._encoded(strings, False, None, 1000)
        back = np.zeros(len(indices), dtype=bool)
        lengths = (indices != self.grammar.padding_rule).sum(axis=1) if self.config.is_grammar_model else None
        with progress_bar(
            total=len(ok), desc="refining codes", unit=" strings", enabled=None if steps and len(ok) else False
        ) as bar:
            codes[ok], back[ok] = refine_codes(
                self.network,
                codes[ok],
                indices[ok],
                None if lengths is None else lengths[ok],
                steps,
                lr,
                advance=bar.update,
            )
        return codes, back, errors

    def codes(self, split: str = "train", batch_size: int = 1000) -> np.ndarray:
        """Latent codes (means for VAEs) of a split of the run's data, from the prepared arrays."""
        return self.encode_indices(self.data.sequences.indices, self.data.rows(split), False, None, batch_size)

    @torch.no_grad()
    def decode_attempts(
        self,
        z: np.ndarray | torch.Tensor,
        attempts: int,
        mode: str = "sample",
        generator: torch.Generator | None = None,
        batch_size: int = 2000,
        temperature: float = 1.0,
        constraints: str | None = None,
        advance: Callable[[int], object] | None = None,
    ) -> list[list[str | None]]:
        """Several decodes of each latent point: N lists of ``attempts`` strings, None where decoding
        gives no complete derivation. The repeat decoder runs once per point; only the masked choice is
        repeated.

        Args:
            z: the points (N, d).
            attempts: decodes per point.
            mode: ``sample`` (Gumbel-max on logits / ``temperature``, from ``generator``) or ``argmax``.
            generator: the random draws' source.
            batch_size: points decoded at once.
            temperature: divides the logits before sampling.
            constraints: ``auto`` (the grammar's semantic constraints where it has them) or ``none``;
                default: the model's setting.
            advance: told the number of points done after each chunk (for a progress bar).
        """
        out: list[list[str | None]] = []
        for chunk in self._chunks(z, attempts, batch_size):
            stepper = self.network.stepper(chunk, attempts)
            strings = self._strings(stepper, len(chunk) * attempts, mode, generator, temperature, constraints)
            out += [strings[i : i + attempts] for i in range(0, len(strings), attempts)]
            if advance is not None:
                advance(len(chunk))
        return out

    def _chunks(self, z: np.ndarray | torch.Tensor, rows_per_point: int, batch_size: int):
        """The latent points as tensors on the device, in chunks of about ``batch_size`` decoded rows."""
        z = torch.as_tensor(np.asarray(z, dtype=np.float32)).to(self.device)
        points = max(1, batch_size // rows_per_point)
        return (z[start : start + points] for start in range(0, len(z), points))

    def decode(
        self,
        z: np.ndarray | torch.Tensor,
        mode: str = "argmax",
        generator: torch.Generator | None = None,
        batch_size: int = 1000,
        temperature: float = 1.0,
        constraints: str | None = None,
        beam: int = 5,
        candidates: int = 100,
    ) -> list[str | None]:
        """One string per latent point (N, d); None where decoding gives no valid string of the grammar.

        Args:
            z: the points (N, d).
            mode: ``argmax``, ``sample`` (Gumbel-max, from ``generator``), ``beam`` (the most probable
                sequence a beam of ``beam`` hypotheses finds; grammar models only) or ``nearest`` (of
                ``candidates`` decodes, the one whose code lies nearest the point: :meth:`decode_nearest`).
            generator: the random draws' source.
            batch_size: points decoded at once.
            temperature: divides the logits before sampling.
            constraints: ``auto`` or ``none`` (default: the model's setting).
            beam: hypotheses of beam search.
            candidates: decodes per point compared by ``nearest``.
        """
        if mode == "nearest":
            return self.decode_nearest(
                z, candidates, generator=generator, batch_size=batch_size, constraints=constraints
            )
        if mode != "beam":
            return [
                first for (first,) in self.decode_attempts(z, 1, mode, generator, batch_size, temperature, constraints)
            ]
        if not self.config.is_grammar_model:
            raise GrammarRAEError("Beam search needs a grammar model; the character VAE decodes with argmax or sample.")
        out: list[str | None] = []
        for chunk in self._chunks(z, beam, batch_size):
            result = beam_decode(
                self.network.stepper(chunk, beam),
                len(chunk),
                beam,
                self.tables,
                self.config.max_length,
                self._constraints(constraints, len(chunk) * beam),
                self.device,
            )
            out += self._rule_strings(result)
        return out

    def decode_nearest(
        self,
        z: np.ndarray | torch.Tensor,
        candidates: int = 100,
        temperature: float = NEAREST_TEMPERATURE,
        generator: torch.Generator | None = None,
        batch_size: int = 2000,
        constraints: str | None = None,
    ) -> list[str | None]:
        """For each point, of its greedy decode and ``candidates`` − 1 decodes drawn at
        ``temperature``, the valid one whose code lies nearest the point (None if none is valid).

        An encoder gives a string's own code back exactly, so where a point is the code of a string
        (a round trip, the ends of an interpolation), that string wins whenever it is among the
        candidates: reconstruction rises with the candidates where greedy decoding stays where it is
        (docs/latent-space.md). The winner's variants that the language knows (a molecule's
        stereoisomers, which the encoder tells apart and the decoder guesses) are compared in a second
        round.

        Args:
            z: the points (N, d).
            candidates: decodes per point, the greedy one included.
            temperature: divides the logits of the drawn candidates.
            generator: the draws' source.
            batch_size: decoded rows at once.
            constraints: ``auto`` or ``none`` (default: the model's setting).
        """
        if candidates < 1:
            raise GrammarRAEError(f"Nearest decoding needs at least 1 candidate, not {candidates}.")
        points = np.asarray(z.detach().cpu() if isinstance(z, torch.Tensor) else z, dtype=np.float32)
        greedy = self.decode(points, "argmax", batch_size=batch_size, constraints=constraints)
        drawn = (
            self.decode_attempts(points, candidates - 1, "sample", generator, batch_size, temperature, constraints)
            if candidates > 1
            else [[] for _ in greedy]
        )
        rows = [[s for s in [first, *more] if s is not None] for first, more in zip(greedy, drawn)]
        best = self._nearest_of(points, rows)
        if self.domain.variants is None:
            return best
        variants = [self.in_model_form(self.domain.variants(b))[0] if b else [] for b in best]  # in the decodes' form
        return self._nearest_of(points, [[b, *more] if b else [] for b, more in zip(best, variants)])

    def _nearest_of(self, points: np.ndarray, rows: list[list[str]]) -> list[str | None]:
        """For each point, the valid string of its row whose code lies nearest it (the first on a
        tie; None if none is valid); each distinct string is encoded once."""
        distinct = list(dict.fromkeys(s for row in rows for s in row))
        codes, errors = self.encode(distinct)  # strings that are no valid string of the language fail here
        where = {s: i for i, s in enumerate(distinct)}
        out: list[str | None] = []
        for point, row in zip(points, rows):
            ok = [where[s] for s in row if where[s] not in errors]
            out.append(distinct[min(ok, key=lambda i: float(np.sum((codes[i] - point) ** 2)))] if ok else None)
        return out

    def _constraints(self, setting: str | None, rows: int):
        """Fresh constraints for ``rows`` decodes, or None; a bad setting is refused for every model."""
        wanted = constraints_wanted(setting or self.constraints, self.grammar) and self.config.is_grammar_model
        return make_constraints(self.grammar, rows, self.config.max_length) if wanted else None

    def _rule_strings(self, result) -> list[str | None]:
        rules = result.rules.cpu().numpy()
        return [self.codec.decode(r) if ok else None for r, ok in zip(rules, result.valid.tolist())]

    def _strings(
        self, stepper, rows: int, mode: str, generator, temperature: float, constraints: str | None
    ) -> list[str | None]:
        steps, constraints = self.config.max_length, self._constraints(constraints, rows)
        if self.config.is_grammar_model:
            result = masked_decode(
                stepper,
                rows,
                self.tables,
                steps,
                mode,
                generator,
                temperature=temperature,
                constraints=constraints,
                device=self.device,
            )
            return self._rule_strings(result)
        chars = char_decode(stepper, rows, steps, mode, generator, temperature, device=self.device)
        return [self.codec.decode(row) for row in chars.cpu().numpy()]
