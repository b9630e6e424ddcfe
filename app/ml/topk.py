"""The k best entries of a score array, best first: what every retriever takes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


def top(scores: npt.NDArray[np.floating], mask: npt.NDArray[np.bool_], k: int) -> I64:
    """Returns the positions of the ``k`` masked entries with the highest score, best first
    (ties in position order)."""
    candidates = np.flatnonzero(mask)
    if len(candidates) > k:
        part = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = candidates[part]
    order = np.argsort(-scores[candidates], kind="stable")
    result: I64 = candidates[order].astype(np.int64)
    return result
