"""Reading input strings (SMILES or expressions) from plain text or CSV files, with line numbers."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from grammar_rae.errors import DataError

_TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}


def _suffix(path: Path) -> str:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    return suffixes[-1].lower() if suffixes else ""


def read_strings(path: str | Path, column: str | None = None) -> tuple[list[int], list[str]]:
    """Return (1-based line numbers, strings) from ``path``.

    Plain text has one string per line (surrounding whitespace stripped; empty lines are kept
    as empty strings so they can be reported). A ``.csv``/``.tsv`` file, or any file when
    ``column`` is given, is read as a table with a header and the strings taken from
    ``column`` (default: the first column). ``.gz`` files are decompressed on the fly.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        if column is not None or _suffix(path) in _TABLE_SUFFIXES:
            return _read_table(path, column)
        with opener(path, "rt", encoding="utf-8") as handle:
            strings = [line.strip() for line in handle]
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise DataError(f"Cannot read {path}: {exc}.") from exc
    if not strings:
        raise DataError(f"{path} is empty: there are no strings to read.")
    return list(range(1, len(strings) + 1)), strings


def _read_table(path: Path, column: str | None) -> tuple[list[int], list[str]]:
    sep = _TABLE_SUFFIXES.get(_suffix(path), ",")
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path} is empty: there are no strings to read.") from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"Cannot read {path} as a table: {exc}.") from exc
    if table.empty:
        raise DataError(f"{path} has a header but no rows.")
    column = column if column is not None else str(table.columns[0])
    if column not in table.columns:
        raise DataError(f"{path} has no column '{column}'; its columns are {', '.join(map(str, table.columns))}.")
    strings = [s.strip() for s in table[column]]
    return [i + 2 for i in range(len(strings))], strings  # line 1 is the header
