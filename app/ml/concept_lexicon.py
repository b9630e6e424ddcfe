"""BM25 over taxonomy concepts' labels: how much of a text's wording a concept's labels share,
the lexical part of a link's score (app/ml/concept_links.py).

One row per concept and language — the concept's preferred and alternative labels in that
language as one text — analysed as lexical matching analyses any text (app/ml/bm25.py:
Snowball stems of the row's language, accents folded); a text is analysed in each row's
language. A concept's share is its best row's BM25 against the text's ceiling
(:func:`app.ml.bm25.lexical_share`), in [0, 1]: 0 when no word of the text is in its labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from app.ml.bm25 import Bm25Index, lexical_share

F64 = npt.NDArray[np.float64]


class ConceptLexicon:
    def __init__(self, rows: Iterable[tuple[str, str, str]]) -> None:
        """``rows``: (URI, language, label), the labels a concept is linked by."""
        texts: dict[tuple[str, str], list[str]] = {}
        for uri, lang, label in rows:
            texts.setdefault((uri, lang), []).append(label)
        keys = sorted(texts)  # a concept's rows side by side
        self.uris: list[str] = sorted({uri for uri, _ in keys})
        self._position = {uri: i for i, uri in enumerate(self.uris)}
        owners = np.array([self._position[uri] for uri, _ in keys], dtype=np.intp)
        self._starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if keys else owners
        index = Bm25Index()
        index.stage(
            range(len(keys)), [" ".join(texts[k]) for k in keys], [lang for _, lang in keys]
        )
        self._index = index.rebuild(range(len(keys)))
        self._size = len(keys)

    def all_shares(self, text: str) -> F64:
        """Every concept's share of ``text``'s wording, in the order of :attr:`uris`."""
        if not self._size:
            return np.zeros(0)
        share = lexical_share(*self._index.query(text, self._size))
        best: F64 = np.maximum.reduceat(share, self._starts)
        return best

    def shares(self, text: str, uris: Sequence[str]) -> Mapping[str, float]:
        """Each of these concepts' share of ``text``'s wording (a URI it does not hold: 0)."""
        if not self._size or not uris:
            return {}
        every = self.all_shares(text)
        return {
            uri: float(every[self._position[uri]]) if uri in self._position else 0.0 for uri in uris
        }
