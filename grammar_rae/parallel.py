"""Mapping a picklable function over many items on all cores, in order, with a progress bar.

RDKit work (validity checks, canonical SMILES, fingerprints, property scores) is per-item
CPU work that the GIL keeps on one core; a process pool over chunks uses them all.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from typing import TypeVar

from grammar_rae.progress import progress_bar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """The number of cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def quiet_worker() -> None:
    """Pool-worker initializer: default SIGTERM handling, so the pool's own shutdown (which sends
    SIGTERM to its workers) does not run a handler inherited from the parent."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class ItemError(RuntimeError):
    """The mapped function raised on one item; names the item and the original error, and
    crosses the process boundary even when the original exception cannot be pickled (RDKit's
    Boost.Python errors cannot)."""


def _apply_chunk(job: tuple[Callable, Sequence]) -> list:
    function, chunk = job
    out = []
    for item in chunk:
        try:
            out.append(function(item))
        except Exception as exc:  # noqa: BLE001 - any error, re-raised with the item it happened on
            name = getattr(function, "__name__", None) or getattr(
                getattr(function, "func", None), "__name__", repr(function)
            )
            raise ItemError(f"{name} failed on {item!r}: {type(exc).__name__}: {exc}") from None
    return out


def parallel_map(
    function: Callable[[T], R],
    items: Sequence[T],
    workers: int | None = None,
    chunk_size: int = 1000,
    desc: str | None = None,
) -> list[R]:
    """``[function(item) for item in items]`` on several processes. Small inputs (one chunk) and
    ``workers == 1`` run in this process.

    Args:
        function: picklable (a module-level function or a picklable callable object).
        items: the inputs.
        workers: processes (default: all cores).
        chunk_size: items per task.
        desc: names a progress bar, shown while progress is (``grammar_rae.progress``); None: no bar.
    """
    workers = workers or default_workers()
    jobs = [(function, items[i : i + chunk_size]) for i in range(0, len(items), chunk_size)]
    serial = workers == 1 or len(jobs) <= 1
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    bar = progress_bar(total=len(items), desc=desc, enabled=None if desc else False, smoothing=0.1)
    out: list[R] = []
    with bar, contextlib.nullcontext() if serial else context.Pool(min(workers, len(jobs)), quiet_worker) as pool:
        for done in map(_apply_chunk, jobs) if serial else pool.imap(_apply_chunk, jobs):
            out.extend(done)
            bar.update(len(done))
    return out
