"""The training loop: Adam, reduce-on-plateau, best-validation checkpoint, exact resume.

Each epoch's batch plan is a pure function of (seed, epoch) and the reparameterisation noise
comes from a generator whose state is checkpointed, so ``--resume`` continues an interrupted
run on exactly the batches and noise it would have seen, from the batch where it stopped.
Grammar-model batches are truncated to their longest real sequence (exact: padding steps have
zero loss); character-model batches are not (their padding steps carry loss).
"""

from __future__ import annotations

import copy
import gc
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from grammar_rae import run_folder as rf
from grammar_rae.data.batching import Splits, epoch_batches, eval_batches
from grammar_rae.data.sequences import SequenceArrays, one_hot_rows
from grammar_rae.errors import GrammarRAEError
from grammar_rae.files import save_json
from grammar_rae.models.autoencoders import Autoencoder
from grammar_rae.progress import progress_bar
from grammar_rae.run_folder import TrainConfig, weights_digest
from grammar_rae.training.distributed import World, all_sum, barrier, gather, shard

logger = logging.getLogger(__name__)


class TrainingError(GrammarRAEError):
    """Training cannot go on (for example the loss became NaN)."""

    kind = "training failed"


@dataclass
class EpochMetrics:
    """Means over one pass: loss, reconstruction term and teacher-forced exact-match accuracy."""

    loss: float
    reconstruction: float
    accuracy: float


class Trainer:
    """Trains one model in one run folder (only rank 0 writes)."""

    def __init__(
        self,
        folder: Path,
        model: Autoencoder,
        train_config: TrainConfig,
        sequences: SequenceArrays,
        splits: Splits,
        device: torch.device,
        world: World = World(),  # noqa: B008 (a frozen dataclass: one shared default is safe)
    ):
        self.folder = folder
        self.config = train_config
        self.sequences = sequences
        self.splits = splits
        self.device = device
        self.world = world
        self.model = model.to(device)
        self.net = (
            DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
            if world.distributed
            else model
        )
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=train_config.lr)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, factor=train_config.lr_factor, patience=train_config.patience, min_lr=train_config.min_lr
        )
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(train_config.seed * 1000 + world.rank)
        self.truncate = model.config.is_grammar_model
        self.amp_dtype = _amp_dtype(device, train_config.precision)
        self.epoch, self.batch, self.best_val = 0, 0, math.inf
        self.steps = 0  # optimiser steps taken (for the warm-up)
        self.partial = [0.0, 0.0, 0.0, 0.0]  # sums of loss, reconstruction, exact, count so far this epoch
        self.epoch_seconds = 0.0  # time spent on this epoch before an interruption, so resumed epochs report it whole
        self.epoch_cpu_seconds = 0.0  # the same in process CPU time (the measure of work on a shared CPU)

    # ----- batches --------------------------------------------------------------------------
    def _tensors(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, int]:
        rows = np.sort(rows)  # memory-mapped reads in file order
        x, targets = one_hot_rows(self.sequences.indices, rows, self.sequences.vocab_size, self.device)
        steps = int(self.sequences.lengths[rows].max()) if self.truncate else targets.shape[1]
        return x, targets, steps

    def _my_batches(self, epoch: int) -> list[np.ndarray]:
        batches = epoch_batches(
            self.splits.train,
            self.sequences.lengths,
            self.config.batch_size,
            self.config.seed,
            epoch,
            self.config.bucket,
        )
        return shard(batches, self.world)

    # ----- one step and one pass -----------------------------------------------------------------
    def _step(self, rows: np.ndarray) -> tuple[float, float, float]:
        """One optimiser step on a batch; returns its loss, reconstruction term and exact matches."""
        self.optimizer.zero_grad(set_to_none=True)
        result = self._backward(rows)
        self._apply()
        return result

    def _backward(self, rows: np.ndarray, scale: float = 1.0) -> tuple[float, float, float]:
        """Add ``scale`` × the gradient of a batch's loss to the parameters' gradients."""
        x, targets, steps = self._tensors(rows)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            terms = self.net(x, targets, steps, self.generator)
        if not torch.isfinite(terms.total):
            raise TrainingError(
                f"The loss became {terms.total.item()} at epoch {self.epoch + 1}, batch {self.batch + 1}; "
                f"training stopped and the last good checkpoint in {self.folder} is kept."
            )
        (terms.total * scale if scale != 1.0 else terms.total).backward()
        return terms.total.item(), terms.reconstruction.item(), terms.exact.float().sum().item()

    def _apply(self) -> None:
        """The optimiser step on the gradients gathered (learning-rate warm-up first)."""
        if self.steps < self.config.warmup_steps:
            for group in self.optimizer.param_groups:
                group["lr"] = self.config.lr * (self.steps + 1) / self.config.warmup_steps
        self.optimizer.step()
        self.steps += 1

    @torch.no_grad()
    def evaluate(self, rows: np.ndarray) -> EpochMetrics:
        """Loss and teacher-forced accuracy on ``rows`` with z = the deterministic code."""
        self.model.eval()
        sums = [0.0, 0.0, 0.0, 0.0]
        batches = eval_batches(rows, self.sequences.lengths, self.config.batch_size)
        for rows_ in batches[self.world.rank :: self.world.size]:
            x, targets, steps = self._tensors(rows_)
            terms = self.model(x, targets, steps)
            n = len(rows_)
            sums = [
                s + v
                for s, v in zip(
                    sums, (terms.total.item() * n, terms.reconstruction.item() * n, terms.exact.float().sum().item(), n)
                )
            ]
        loss, rec, exact, count = all_sum(sums, self.world, self.device)
        return EpochMetrics(loss / count, rec / count, exact / count)

    def train(self) -> list[dict]:
        """Run the remaining epochs, with a progress bar per epoch where progress is shown
        (``grammar_rae.progress``); returns the metrics log."""
        while self.epoch < self.config.epochs:
            started = time.perf_counter() - self.epoch_seconds
            started_cpu = time.process_time() - self.epoch_cpu_seconds
            batches = self._my_batches(self.epoch)
            self.model.train()
            bar = progress_bar(
                total=len(batches),
                initial=self.batch,
                desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
                unit="batch",
                dynamic_ncols=True,
            )
            try:
                with bar:
                    while self.batch < len(batches):
                        rows = batches[self.batch]
                        tick = time.perf_counter()
                        loss, rec, exact = self._step(rows)
                        self.partial = [
                            s + v for s, v in zip(self.partial, (loss * len(rows), rec * len(rows), exact, len(rows)))
                        ]
                        self.batch += 1
                        bar.set_postfix(
                            loss=f"{loss:.4f}",
                            acc=f"{exact / len(rows):.3f}",
                            mol_s=f"{len(rows) * self.world.size / (time.perf_counter() - tick):.0f}",
                            refresh=False,
                        )
                        bar.update()
                self._finish_epoch(time.perf_counter() - started, time.process_time() - started_cpu)
            except KeyboardInterrupt:
                self.epoch_seconds = time.perf_counter() - started
                self.epoch_cpu_seconds = time.process_time() - started_cpu
                self.save_checkpoint()  # mid-epoch, or with the epoch's batches done but not yet validated
                raise
        return rf.read_metrics(self.folder)

    def _finish_epoch(self, seconds: float, cpu_seconds: float) -> None:
        loss, rec, exact, count = all_sum(self.partial, self.world, self.device)
        val = self.evaluate(self.splits.val)
        self.scheduler.step(val.loss)
        record = {
            "epoch": self.epoch + 1,
            "train_loss": loss / count,
            "train_reconstruction": rec / count,
            "train_accuracy": exact / count,
            "val_loss": val.loss,
            "val_reconstruction": val.reconstruction,
            "val_accuracy": val.accuracy,
            "lr": self.optimizer.param_groups[0]["lr"],
            "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu_seconds, 1),
        }
        improved = val.loss < self.best_val
        self.epoch, self.batch, self.partial = self.epoch + 1, 0, [0.0, 0.0, 0.0, 0.0]
        self.epoch_seconds = self.epoch_cpu_seconds = 0.0
        if improved:
            self.best_val = val.loss
        record["best"] = improved
        if self.world.is_main:
            if improved:
                rf.save_tensors(self.folder / rf.WEIGHTS, self.model.state_dict())
                save_json(
                    self.folder / rf.BEST, {"epoch": self.epoch, "val_loss": val.loss, "val_accuracy": val.accuracy}
                )
            rf.append_metrics(self.folder, record)
            self.save_checkpoint()
            logger.info(
                f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, val loss {val.loss:.4f}, "
                f"val accuracy {val.accuracy:.3f}, lr {record['lr']:.1e}, {seconds:.0f} s"
                + (" (best)" if improved else "")
            )
        barrier(self.world)

    def release(self) -> None:
        """Drop the DDP wrapper, whose reducer holds the process group: a group still held when the
        interpreter exits is torn down during finalisation, where gloo's threads can abort the process
        (``terminate called without an active exception``) after training has succeeded."""
        self.net = self.model
        gc.collect()

    # ----- state ------------------------------------------------------------------------------
    def state(self) -> dict:
        """Everything needed to continue exactly where training is now."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "epoch": self.epoch,
            "batch": self.batch,
            "steps": self.steps,
            "best_val": self.best_val,
            "partial": self.partial,
            "epoch_seconds": self.epoch_seconds,
            "epoch_cpu_seconds": self.epoch_cpu_seconds,
        }

    def save_checkpoint(self) -> None:
        """Write ``checkpoint.pt`` (rank 0 only)."""
        if self.world.is_main:
            rf.save_tensors(self.folder / rf.CHECKPOINT, self.state())

    def restore(self, state: dict) -> None:
        """Continue from a :meth:`state` dict."""
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.generator.set_state(state["generator"].cpu() if self.device.type == "cpu" else state["generator"])
            self.epoch, self.batch, self.best_val = state["epoch"], state["batch"], state["best_val"]
            self.partial = list(state["partial"])
            self.steps = state.get("steps", 0)  # absent in checkpoints written before warm-up existed
            self.epoch_seconds = float(state.get("epoch_seconds", 0.0))  # absent in older checkpoints
            self.epoch_cpu_seconds = float(state.get("epoch_cpu_seconds", 0.0))
        except (KeyError, RuntimeError, ValueError) as exc:
            raise rf.RunError(f"The checkpoint in {self.folder} does not fit this model ({exc}).") from exc

    def parameter_digest(self) -> str:
        """A digest of the current weights (to check that all processes hold the same model)."""
        return weights_digest(self.model.state_dict())


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX), where bf16 autocast pays
    (1.5-2x on the cpu preset); elsewhere it is emulated and may be slower than fp32. torch has no
    public test for this, so its own private CPU checks are asked, and False if they are gone."""
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def _amp_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast type: bfloat16 when asked, or by default on GPUs that support it; else none."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return None


def estimate_epoch_seconds(
    model: Autoencoder, sequences: SequenceArrays, rows: np.ndarray, batch_size: int, device: torch.device
) -> float:
    """Seconds per training epoch, from timing forward + backward on one typical batch (of median
    length) of a copy of the model, after one untimed pass that warms up the kernels.

    Args:
        model: the model (copied, so its state is untouched).
        sequences: the data set's sequences.
        rows: the training rows.
        batch_size: rows per batch.
        device: where training runs.
    """
    trial = copy.deepcopy(model).to(device).train()
    sample = rows[np.argsort(sequences.lengths[rows])][len(rows) // 2 :][:batch_size]
    x, targets = one_hot_rows(sequences.indices, np.sort(sample), sequences.vocab_size, device)
    steps = int(sequences.lengths[sample].max()) if model.config.is_grammar_model else targets.shape[1]
    for _ in range(2):  # the second pass is the one timed
        started = time.perf_counter()
        trial(x, targets, steps).total.backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return (time.perf_counter() - started) * math.ceil(len(rows) / batch_size)


def collect_digests(trainer: Trainer) -> list[str]:
    """Every process's weight digest, in rank order."""
    return gather(trainer.parameter_digest(), trainer.world)
