"""Reading the ESCO taxonomy for linking and for its API: labels that match a text exactly, the
labels nearest a vector (HNSW, in PostgreSQL), a concept with its labels and relations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.ml.concept_links import LabelMatch


# One statement per concept kind with the kind spelt out, so the planner can use that kind's
# partial HNSW index whatever plan a prepared statement settles on.
def _nearest(kind: str, k: int) -> TextClause:
    # The kind and the limit spelt out: the planner then uses that kind's partial HNSW index
    # whatever plan a prepared statement settles on.
    sql = (
        "SELECT uri, label, kind, 1 - (embedding <=> :q) AS similarity "
        "FROM esco_label_vectors WHERE concept_kind = '" + kind + "' AND model_id = :m "
        "ORDER BY embedding <=> :q LIMIT " + str(int(k))
    )
    return text(sql).bindparams(bindparam("q", type_=Vector()))


_NEAREST: dict[tuple[str, int], TextClause] = {}


# A transversal skill is an essential or optional skill of thousands of occupations.
RELATED_CAP = 500


class TaxonomyLinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def exact(self, concept_kind: str, keys: Sequence[str]) -> dict[str, list[LabelMatch]]:
        """Per comparison key (app/ml/text.skill_key), the labels of this kind's concepts that
        have it, in any language."""
        if not keys:
            return {}
        rows = await self.session.execute(
            text(
                "SELECT l.key, l.uri, l.label, l.kind FROM esco_labels l JOIN esco_concepts c "
                "ON c.uri = l.uri WHERE c.kind = :kind AND l.key = ANY(:keys)"
            ),
            {"kind": concept_kind, "keys": list(set(keys))},
        )
        found: dict[str, list[LabelMatch]] = {}
        for key, uri, label, label_kind in rows:
            found.setdefault(key, []).append(LabelMatch(uri, label, label_kind, exact=True))
        return found

    async def punctuated_labels(self, concept_kind: str) -> list[tuple[str, str, str, str]]:
        """(key, URI, label, label kind) of this kind's labels whose comparison key has a
        character other than a-z, 0-9 and a space: those a word form may fold
        (app/ml/concept_links.word_form_index keeps the ones it does)."""
        rows = await self.session.execute(
            text(
                "SELECT l.key, l.uri, l.label, l.kind FROM esco_labels l JOIN esco_concepts c "
                "ON c.uri = l.uri WHERE c.kind = :kind AND l.key ~ '[^a-z0-9 ]'"
            ),
            {"kind": concept_kind},
        )
        return [(key, uri, label, label_kind) for key, uri, label, label_kind in rows]

    async def lexicon_rows(self, concept_kind: str) -> list[tuple[str, str, str]]:
        """(URI, language, label) of every preferred and alternative label of this kind's
        concepts: what lexical linking reads (app/ml/concept_lexicon.py)."""
        rows = await self.session.execute(
            text(
                "SELECT l.uri, l.lang, l.label FROM esco_labels l JOIN esco_concepts c "
                "ON c.uri = l.uri WHERE c.kind = :kind AND l.kind IN ('preferred', 'alternative')"
            ),
            {"kind": concept_kind},
        )
        return [(uri, lang, label) for uri, lang, label in rows]

    async def nearest(
        self, concept_kind: str, model_id: str, vectors: Any, k: int
    ) -> list[list[LabelMatch]]:
        """Per vector, the ``k`` labels of this kind's concepts nearest it under ``model_id``
        (approximate: HNSW, ``ef_search`` of at least 2k, an iterative scan past other
        models' vectors; results come back nearest first, relaxed order re-sorted by the
        caller)."""
        await self.session.execute(
            text(f"SET LOCAL hnsw.ef_search = {max(40, 2 * int(k))}")  # an int, not input
        )
        # vectors of another model share the index: scan on until k of this model are found
        await self.session.execute(
            text("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        )
        stmt = _NEAREST.get((concept_kind, k))
        if stmt is None:
            stmt = _NEAREST[(concept_kind, k)] = _nearest(concept_kind, k)
        out = []
        for vector in np.asarray(vectors, dtype=np.float32):
            rows = await self.session.execute(stmt, {"q": vector, "m": model_id})
            out.append(
                [
                    LabelMatch(uri, label, kind, exact=False, similarity=float(sim))
                    for uri, label, kind, sim in rows
                ]
            )
        return out

    async def known(self, concept_kind: str, uris: Sequence[str]) -> set[str]:
        """Those of these URIs that are concepts of this kind."""
        if not uris:
            return set()
        rows = await self.session.scalars(
            text("SELECT uri FROM esco_concepts WHERE kind = :k AND uri = ANY(:uris)"),
            {"k": concept_kind, "uris": list(set(uris))},
        )
        return set(rows)

    async def has_vectors(self, concept_kind: str, model_id: str) -> bool:
        found = await self.session.scalar(
            text(
                "SELECT EXISTS (SELECT FROM esco_label_vectors WHERE model_id = :m "
                "AND concept_kind = :k)"
            ),
            {"m": model_id, "k": concept_kind},
        )
        return bool(found)

    async def preferred_labels(self, uris: Sequence[str], lang: str) -> dict[str, str]:
        """Each concept's preferred label in ``lang``, else in English, else in any language."""
        if not uris:
            return {}
        rows = await self.session.execute(
            text(
                "SELECT DISTINCT ON (uri) uri, label FROM esco_labels "
                "WHERE uri = ANY(:uris) AND kind = 'preferred' "
                "ORDER BY uri, lang = :lang DESC, lang = 'en' DESC, lang"
            ),
            {"uris": list(set(uris)), "lang": lang},
        )
        return {uri: label for uri, label in rows}

    async def concept(self, concept_kind: str, uri: str) -> dict[str, Any] | None:
        """A concept with its labels and descriptions per language and its relations (each
        related concept with its kind and English preferred label)."""
        row = (
            await self.session.execute(
                text(
                    "SELECT uri, kind, code, isco_group, skill_type, reuse_level, status "
                    "FROM esco_concepts WHERE uri = :u AND kind = :k"
                ),
                {"u": uri, "k": concept_kind},
            )
        ).first()
        if row is None:
            return None
        concept = dict(row._mapping)
        labels: dict[str, dict[str, Any]] = {}
        for lang, kind, label in await self.session.execute(
            text(
                "SELECT lang, kind, label FROM esco_labels WHERE uri = :u "
                "ORDER BY lang, kind, label"
            ),
            {"u": uri},
        ):
            entry = labels.setdefault(lang, {"preferred": None, "alternative": [], "hidden": []})
            if kind == "preferred":
                entry["preferred"] = label
            else:
                entry[kind].append(label)
        for lang, description in await self.session.execute(
            text("SELECT lang, description FROM esco_descriptions WHERE uri = :u"), {"u": uri}
        ):
            labels.setdefault(lang, {"preferred": None, "alternative": [], "hidden": []})
            labels[lang]["description"] = description
        relations = await self.session.execute(
            text(
                "SELECT r.relation, 'out' AS way, r.target_uri AS other, c.kind, r.skill_type "
                "FROM esco_relations r JOIN esco_concepts c ON c.uri = r.target_uri "
                "WHERE r.source_uri = :u "
                "UNION ALL SELECT r.relation, 'in', r.source_uri, c.kind, r.skill_type "
                "FROM esco_relations r JOIN esco_concepts c ON c.uri = r.source_uri "
                "WHERE r.target_uri = :u ORDER BY 1, 2, 3 LIMIT :cap"
            ),
            {"u": uri, "cap": RELATED_CAP + 1},
        )
        related = [dict(r._mapping) for r in relations]
        concept["related_truncated"] = len(related) > RELATED_CAP
        related = related[:RELATED_CAP]
        names = await self.preferred_labels([r["other"] for r in related], "en")
        concept["labels"] = labels
        concept["related"] = [{**r, "label": names.get(r["other"])} for r in related]
        return concept

    async def matching_rows(
        self,
    ) -> tuple[dict[str, str | None], list[tuple[str, str, str]], dict[str, str]]:
        """What matching holds in memory (app/ml/taxonomy_match.py): each occupation's ISCO
        group, every occupation–skill relation, each occupation's and skill's preferred label
        (English, else any language)."""
        groups = await self.session.execute(
            text("SELECT uri, isco_group FROM esco_concepts WHERE kind = 'occupation'")
        )
        # one row per occupation and relation (some 6,000, not 130,000 rows to decode)
        relations = await self.session.execute(
            text(
                "SELECT source_uri, relation, array_agg(target_uri) FROM esco_relations "
                "WHERE relation IN ('essential', 'optional') GROUP BY source_uri, relation"
            )
        )
        labels = await self.session.execute(
            text(
                "SELECT DISTINCT ON (l.uri) l.uri, l.label FROM esco_labels l "
                "JOIN esco_concepts c ON c.uri = l.uri AND c.kind IN ('occupation', 'skill') "
                "WHERE l.kind = 'preferred' ORDER BY l.uri, l.lang = 'en' DESC, l.lang"
            )
        )
        return (
            {uri: group for uri, group in groups},
            [(s, r, t) for s, r, targets in relations for t in targets],
            {uri: label for uri, label in labels},
        )
