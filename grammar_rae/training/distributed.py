"""Data-parallel training with PyTorch DDP under ``torchrun`` (one process per GPU or CPU slot).

``torchrun --nproc-per-node N -m grammar_rae.cli.main train ...`` sets RANK/WORLD_SIZE; each
process then takes every N-th batch of the same epoch plan, gradients are averaged by DDP, and
only rank 0 writes the run folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True for the process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when several processes train together."""
        return self.size > 1


def init_world(device: torch.device) -> World:
    """Join the process group that torchrun set up (NCCL on CUDA, gloo on CPU), if any."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world


def shard(batches: list, world: World) -> list:
    """This process's share of an epoch's batches: every ``world.size``-th one from its rank, so
    that step k of all processes together covers batches k·size … k·size + size − 1 (a last
    incomplete round is left out, so every process takes the same number of steps)."""
    usable = len(batches) - len(batches) % world.size
    return batches[world.rank : usable : world.size]


def all_sum(values: list[float], world: World, device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all processes."""
    if not world.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather(value, world: World) -> list:
    """A picklable value from every process, in rank order (all processes get the list)."""
    if not world.distributed:
        return [value]
    out = [None] * world.size
    dist.all_gather_object(out, value)
    return out


def barrier(world: World) -> None:
    """Wait for all processes."""
    if world.distributed:
        dist.barrier()


def shutdown(world: World) -> None:
    """Leave the process group."""
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
