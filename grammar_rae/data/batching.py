"""Train/validation/test splits and length-bucketed batches.

Splits follow the papers (protocol section 1): the test set is the first ``test_size`` rows
(5,000 molecules for ZINC250k) and the validation set the last ``val_fraction`` of the rest.
Batches are drawn from length-sorted buckets so that each batch can be truncated to its longest
real sequence with little padding; the order is a pure function of (seed, epoch), so an
interrupted run resumes on exactly the batches it would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grammar_rae.errors import DataError

_BUCKET_BATCHES = 50  # batches per shuffled, length-sorted bucket


@dataclass(frozen=True)
class Splits:
    """Row indices of the three splits."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def make_splits(n: int, test_size: int = 5000, val_fraction: float = 0.1, shuffle: bool = False) -> Splits:
    """Test = the first ``min(test_size, n // 10)`` rows; validation = the last ``val_fraction``
    of the remaining rows; training = the rest.

    With ``shuffle`` the rows are first put in a fixed random order (the same for every run),
    for data files whose order is not random: the expression set is listed in generation order,
    so its last 10% would be a validation set unlike the training set.
    """
    test = min(test_size, n // 10)
    n_val = int(round((n - test) * val_fraction))
    if n - test - n_val < 1 or n_val < 1:
        raise DataError(f"{n} strings are too few to split into training, validation and test sets.")
    rows = np.random.default_rng(0).permutation(n) if shuffle else np.arange(n)
    return Splits(train=rows[test : n - n_val], val=rows[n - n_val :], test=rows[:test])


def epoch_batches(
    rows: np.ndarray, lengths: np.ndarray, batch_size: int, seed: int, epoch: int, bucket: bool = True
) -> list[np.ndarray]:
    """The batches of one epoch: shuffled rows, sorted by length within buckets of 50 batches,
    the batch order shuffled again.

    Args:
        rows: the row numbers to batch (a split).
        lengths: each row's sequence length, indexed by row number.
        batch_size: rows per batch (the last batch may be smaller).
        seed, epoch: together fix the shuffles, so a resumed run sees the same batches.
        bucket: sort by length within buckets; False gives plain shuffled batches.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rows[rng.permutation(len(rows))]
    if bucket:
        span = batch_size * _BUCKET_BATCHES
        order = np.concatenate(
            [
                chunk[np.argsort(lengths[chunk], kind="stable")]
                for chunk in np.array_split(order, range(span, len(order), span))
            ]
        )
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))] if bucket else batches


def eval_batches(rows: np.ndarray, lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Deterministic length-sorted batches for evaluation."""
    order = rows[np.argsort(lengths[rows], kind="stable")]
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
