"""The skill labels of a pool's rows, interned as key ids and indexed by key.

Built over the rows a pool holds at its last compaction; rows written later are read from their
label lists one by one until the next build. It answers two questions per ranking: which rows
list a required skill word for word (``skill_hits``, a retriever), and each proposed row's
labels as key ids with the key vectors known so far (``label_keys``, for skill matching).
"""

from __future__ import annotations

from array import array as int_array
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from app.ml.skills import LabelKeys, ragged_positions
from app.ml.text import skill_key

F64 = npt.NDArray[np.float64]
Labels = Sequence[Sequence[str] | None]


class SkillIndex:
    """Key ids of every indexed row's labels (CSR), and per key the rows listing it."""

    def __init__(self, labels: Labels, dim: int) -> None:
        self.dim = dim
        key_ids: dict[str, int] = {}
        id_of_label: dict[str, int] = {}
        keys, counts = int_array("i"), np.zeros(len(labels), dtype=np.int64)
        for slot, row in enumerate(labels):
            for label in row or ():
                k = id_of_label.get(label)
                if k is None:
                    k = id_of_label[label] = key_ids.setdefault(skill_key(label), len(key_ids))
                keys.append(k)
            counts[slot] = len(row or ())
        key_array = np.frombuffer(keys, dtype=np.int32) if keys else np.zeros(0, np.int32)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.flat = key_array
        self.key_ids = key_ids
        self.names = list(key_ids)
        self._label_key = id_of_label
        # Vectors of the keys come from the skill cache as rankings ask for them.
        self.vectors = np.zeros((len(key_ids), dim), dtype=np.float32)
        self.known = np.zeros(len(key_ids), dtype=bool)
        slots = np.repeat(np.arange(len(labels), dtype=np.int32), counts)
        order = np.argsort(key_array, kind="stable")
        sorted_slots = slots[order]
        bounds = np.searchsorted(key_array[order], np.arange(len(key_ids) + 1))
        # One sorted int32 array of slots, and per key a view of its stretch.
        self.slots_of = {key: sorted_slots[bounds[k] : bounds[k + 1]] for key, k in key_ids.items()}
        self.indexed = len(labels)

    def _key_of(self, label: str) -> int:
        """The key id of a label, interning its key if the index has not seen it."""
        k = self._label_key.get(label)
        if k is None:
            key = skill_key(label)
            k = self.key_ids.get(key)
            if k is None:
                k = self.key_ids[key] = len(self.names)
                self.names.append(key)
            self._label_key[label] = k
        return k

    def label_keys(self, labels: Labels, slots: Sequence[int]) -> LabelKeys:
        """The labels of ``slots`` as key ids (local to the answer), with the key vectors the
        index holds; keys it holds no vector for are marked unknown (see ``remember``)."""
        at = np.asarray(slots, dtype=np.int64)
        indexed = at < self.indexed
        counts = np.zeros(len(at), dtype=np.int64)
        starts = self.indptr[at[indexed]]
        counts[indexed] = self.indptr[at[indexed] + 1] - starts
        later = {
            i: [self._key_of(label) for label in labels[slot] or ()]
            for i, slot in enumerate(slots)
            if not indexed[i]
        }
        for i, row in later.items():
            counts[i] = len(row)
        ids = np.full((len(at), max(int(counts.max(initial=0)), 1)), -1, dtype=np.int64)
        rows = np.flatnonzero(indexed)
        owner, place = ragged_positions(counts[rows])
        ids[rows[owner], place] = self.flat[starts[owner] + place]
        for i, row in later.items():
            ids[i, : len(row)] = row
        # Renumber to the distinct keys of this answer.
        present = ids >= 0
        keys, local = np.unique(ids[present], return_inverse=True)
        ids[present] = local
        if len(self.known) < len(self.names):
            grown = len(self.names)
            self.vectors = np.concatenate(
                [self.vectors, np.zeros((grown - len(self.vectors), self.dim), np.float32)]
            )
            self.known = np.concatenate([self.known, np.zeros(grown - len(self.known), dtype=bool)])
        return LabelKeys(
            ids,
            [self.names[k] for k in keys.tolist()],
            self.vectors[keys],
            self.known[keys],
            source=(self, keys),
        )

    def remember(self, labels: LabelKeys) -> None:
        """Keeps the key vectors ``labels`` was completed with, if it was taken from this index
        (a compaction builds a new one, numbered anew)."""
        if labels.source is None or labels.source[0] is not self:
            return
        keys = labels.source[1]
        new = labels.known & ~self.known[keys]
        if new.any():
            self.vectors[keys[new]] = labels.vectors[new]
            self.known[keys[new]] = True

    def skill_hits(self, labels: Labels, required: Sequence[tuple[str, float]]) -> F64:
        """Returns per slot the summed weight of the required skill keys it lists exactly."""
        hits = np.zeros(len(labels))
        for key, weight in required:
            slots = self.slots_of.get(key)
            if slots is not None:
                hits[slots] += weight
        wanted = dict(required)
        for slot in range(self.indexed, len(labels)):
            for label in labels[slot] or ():
                hits[slot] += wanted.get(skill_key(label), 0.0)
        return hits
