"""Atomic file writes: write to a temporary name next to the target, then rename into place,
so an interrupted program never leaves a half-written file behind; and a lock for files that
several processes rewrite from shared state (a results table that runs side by side update)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(handle)`` on a temporary file next to ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_json(path: str | Path, value: dict | list) -> None:
    """Write JSON atomically (indented, UTF-8)."""
    write_atomic(path, lambda out: out.write((json.dumps(value, indent=2) + "\n").encode()))


def save_lines(path: str | Path, lines: Iterable[str]) -> None:
    """Write one string per line atomically."""
    write_atomic(path, lambda out: out.write("".join(f"{line}\n" for line in lines).encode()))


@contextlib.contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (made if missing) for the ``with`` block; other
    processes asking for it wait. What is read and written under it is one step for them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        if os.name == "nt":  # pragma: no cover - the lock of Windows
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
