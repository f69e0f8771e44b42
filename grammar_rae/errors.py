"""Exceptions for user-facing failures.

Every error a user can cause (a bad string, a missing file, a wrong option) is a
:class:`GrammarRAEError` whose message is one clear sentence; the CLI prints it and exits
non-zero instead of showing a traceback. ``kind`` names the failure class in reports
(for example the per-reason counts of rejected input lines).
"""


class GrammarRAEError(Exception):
    """Base class of all errors caused by user input."""

    kind = "error"


class GrammarError(GrammarRAEError):
    """A grammar file is missing, malformed, or unsuitable."""

    kind = "bad grammar"


class TokenizeError(GrammarRAEError):
    """A string contains text that is not a terminal of the grammar."""

    kind = "unknown token"


class EmptyInput(TokenizeError):
    """A string is empty."""

    kind = "empty"


class ParseError(GrammarRAEError):
    """A token sequence is not in the language of the grammar."""

    kind = "not in grammar"


class SequenceTooLong(ParseError):
    """A string parses, but needs more productions than the maximum sequence length."""

    kind = "too long"


class InvalidString(GrammarRAEError):
    """A string is in the grammar but fails the language's own check (RDKit for SMILES)."""

    kind = "invalid"


class DataError(GrammarRAEError):
    """A data set cannot be found, read, downloaded or verified."""

    kind = "bad data"
