"""String files (SMILES or expressions): reading them with line numbers, writing them in the format
their name says.

Plain files have one string per line. In ``.smi``/``.smiles`` files, as in the SMILES-file convention
(Daylight's, which RDKit's ``SmilesMolSupplier`` and Open Babel read), the string is the first
whitespace-separated field and anything after it is a title; ``.txt`` files may hold expressions,
which contain spaces, so only a tab ends their string. ``.csv``/``.tsv`` files are tables with a header."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from grammar_rae.errors import DataError
from grammar_rae.files import write_atomic

_TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
_SMILES_SUFFIXES = (".smi", ".smiles")
OUTPUT_SUFFIXES = (*_TABLE_SUFFIXES, *_SMILES_SUFFIXES, ".txt")


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
        first_field = _first_field(_suffix(path) in _SMILES_SUFFIXES)
        with opener(path, "rt", encoding="utf-8") as handle:
            strings = [first_field(line) for line in handle]
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise DataError(f"Cannot read {path}: {exc}.") from exc
    if not strings:
        raise DataError(f"{path} is empty: there are no strings to read.")
    return list(range(1, len(strings) + 1)), strings


def _first_field(smiles_file: bool):
    """The string of a plain line: up to the first whitespace in SMILES files, else up to a tab."""
    if smiles_file:
        return lambda line: "" if not line.strip() or line[0].isspace() else line.split(None, 1)[0]
    return lambda line: line.split("\t", 1)[0].strip()


def check_output_format(path: str | Path) -> None:
    """Refuse an output file whose name says no format :func:`write_strings` writes."""
    if _suffix(Path(path)) not in OUTPUT_SUFFIXES or Path(path).suffix == ".gz":
        raise DataError(
            f"Cannot tell the format of {path} from its name: use .csv or .tsv (a table with the columns "
            f"string and valid), or .smi, .smiles or .txt (one string per line, a tab, then valid or invalid)."
        )


def write_strings(path: str | Path, strings: list[str | None], valid: list[bool]) -> None:
    """Write strings with their validity in the format the name says (see the module docstring):
    a table with ``string`` and ``valid`` columns, or a line per string with ``valid``/``invalid``
    as its title; a string that could not be decoded is empty."""
    path = Path(path)
    check_output_format(path)
    texts = [s or "" for s in strings]
    if _suffix(path) in _TABLE_SUFFIXES:
        table = pd.DataFrame({"string": texts, "valid": list(valid)})
        data = table.to_csv(index=False, sep=_TABLE_SUFFIXES[_suffix(path)]).encode()
    else:
        gap = " " if _suffix(path) in _SMILES_SUFFIXES else "\t"  # RDKit's SmilesMolSupplier splits at spaces
        data = "".join(f"{t}{gap}{'valid' if ok else 'invalid'}\n" for t, ok in zip(texts, valid)).encode()
    write_atomic(path, lambda handle: handle.write(data))


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
