"""The ESCO taxonomy's tables: written by ``ponte taxonomy import`` (as the owner), read by
linking and matching. Writes replace a concept's labels and description per language, and a
source's relations per kind, so an import of a newer version drops what it no longer has."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import delete, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Candidate, Vacancy
from app.db.taxonomy_tables import (
    EscoConcept,
    EscoDescription,
    EscoLabel,
    EscoLabelVector,
    EscoRelation,
    TaxonomyImport,
)
from app.ml.concept_links import LINKS_VERSION
from app.ml.esco_files import ConceptRow, RelationRow
from app.ml.text import skill_key

# Labels that name a concept for linking and embedding (hidden labels are misspellings kept for
# search: matched exactly, never embedded).
EMBEDDED_LABELS = ("preferred", "alternative")


_IMPORT_LOCK_SPACE = 0x45534300  # "ESC": apart from the other advisory locks ("PONT", "LABL")


class TaxonomyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- imports ------------------------------------------------------------------------------

    async def lock_imports(self, wait: bool = False) -> bool:
        """The imports' transaction-level advisory lock, or False at once if another holds it
        (``wait``: until the other lets it go). The transaction holding it sits idle while the
        work runs in other sessions, so a server's idle-in-transaction timeout, which would end
        it and free the lock mid-import, is lifted for it."""
        await self.session.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
        if wait:
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(:space, 0)"), {"space": _IMPORT_LOCK_SPACE}
            )
            return True
        held = await self.session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:space, 0)"), {"space": _IMPORT_LOCK_SPACE}
        )
        return bool(held)

    async def open_import(self, source: str, version: str, languages: list[str]) -> TaxonomyImport:
        """The unfinished import of this version to resume, or a new one."""
        found = await self.session.scalar(
            select(TaxonomyImport)
            .where(
                TaxonomyImport.source == source,
                TaxonomyImport.version == version,
                TaxonomyImport.state == "running",
            )
            .order_by(TaxonomyImport.started_at.desc())
            .limit(1)
            .with_for_update()
        )
        if found is not None:
            found.languages = sorted(set(found.languages) | set(languages))
            await self.session.flush()
            return found
        made = TaxonomyImport(source=source, version=version, languages=sorted(languages))
        self.session.add(made)
        await self.session.flush()
        await self.session.refresh(made)
        return made

    async def files_done(self, source: str, version: str) -> dict[str, str]:
        """File name → sha256 of every file an import of this version has finished."""
        rows = await self.session.scalars(
            select(TaxonomyImport.files).where(
                TaxonomyImport.source == source, TaxonomyImport.version == version
            )
        )
        done: dict[str, str] = {}
        for files in rows:
            done |= {name: entry["sha256"] for name, entry in files.items()}
        return done

    async def file_done(self, import_id: uuid.UUID, name: str, sha256: str, rows: int) -> None:
        await self.session.execute(
            update(TaxonomyImport)
            .where(TaxonomyImport.id == import_id)
            .values(
                files=TaxonomyImport.files.op("||")(
                    func.jsonb_build_object(
                        name, func.jsonb_build_object("sha256", sha256, "rows", rows)
                    )
                )
            )
        )

    async def finish(
        self, import_id: uuid.UUID, model_id: str | None, embedded: int, seconds: float
    ) -> TaxonomyImport:
        """Marks an import done, recording the languages the taxonomy now holds labels in."""
        found = await self.session.get(TaxonomyImport, import_id, populate_existing=True)
        assert found is not None
        found.languages = await self.label_languages()
        found.state = "done"
        found.model_id = model_id
        found.labels_embedded = embedded
        found.embed_seconds = round(seconds, 2)
        found.finished_at = func.now()
        await self.session.flush()
        await self.session.refresh(found)
        return found

    async def discard(self, import_id: uuid.UUID) -> None:
        """Deletes an import run that wrote nothing."""
        await self.session.execute(delete(TaxonomyImport).where(TaxonomyImport.id == import_id))

    async def latest(self, source: str = "esco") -> TaxonomyImport | None:
        """The latest finished import (None: no taxonomy imported)."""
        return await self.session.scalar(
            select(TaxonomyImport)
            .where(TaxonomyImport.source == source, TaxonomyImport.state == "done")
            .order_by(TaxonomyImport.finished_at.desc())
            .limit(1)
        )

    # -- concepts and relations ---------------------------------------------------------------

    async def put_concepts(self, rows: Sequence[ConceptRow], import_id: uuid.UUID) -> None:
        """Upserts concepts (a language file's empty columns keep what another file gave) and
        replaces their labels and description in the rows' language."""
        if not rows:
            return
        stmt = insert(EscoConcept)
        keep = {
            column: func.coalesce(stmt.excluded[column], EscoConcept.__table__.c[column])
            for column in ("code", "isco_group", "skill_type", "reuse_level", "status")
        }
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[EscoConcept.uri],
                set_={**keep, "kind": stmt.excluded.kind, "import_id": stmt.excluded.import_id},
            ),
            [
                {
                    "uri": r.uri,
                    "kind": r.kind,
                    "code": r.code,
                    "isco_group": r.isco_group,
                    "skill_type": r.skill_type,
                    "reuse_level": r.reuse_level,
                    "status": r.status,
                    "import_id": import_id,
                }
                for r in rows
            ],
        )
        pairs = [(r.uri, r.lang) for r in rows]
        for table in (EscoLabel, EscoDescription):
            await self.session.execute(
                delete(table).where(tuple_(table.uri, table.lang).in_(pairs))
            )
        labels = [
            {"uri": r.uri, "lang": r.lang, "kind": kind, "label": label, "key": skill_key(label)}
            for r in rows
            for kind, label in r.labels
        ]
        if labels:
            await self.session.execute(insert(EscoLabel).on_conflict_do_nothing(), labels)
        descriptions = [
            {"uri": r.uri, "lang": r.lang, "description": r.description}
            for r in rows
            if r.description
        ]
        if descriptions:
            await self.session.execute(insert(EscoDescription), descriptions)

    async def known_uris(self) -> set[str]:
        return set(await self.session.scalars(select(EscoConcept.uri)))

    async def put_relations(
        self, sources: Sequence[str], relations: Sequence[str], rows: Sequence[RelationRow]
    ) -> None:
        """Replaces the relations of these kinds from these sources with ``rows``."""
        await self.session.execute(
            delete(EscoRelation).where(
                EscoRelation.source_uri.in_(list(sources)),
                EscoRelation.relation.in_(list(relations)),
            )
        )
        if rows:
            await self.session.execute(
                insert(EscoRelation).on_conflict_do_nothing(),
                [
                    {
                        "source_uri": r.source_uri,
                        "relation": r.relation,
                        "target_uri": r.target_uri,
                        "skill_type": r.skill_type,
                    }
                    for r in rows
                ],
            )

    async def keep_languages(self, languages: Sequence[str]) -> int:
        """Removes every label, description and label vector in a language not of these;
        returns how many rows went."""
        gone = 0
        for table in ("esco_label_vectors", "esco_descriptions", "esco_labels"):
            result = await self.session.execute(
                text(f"DELETE FROM {table} WHERE lang <> ALL(:langs)"),  # noqa: S608 (constants)
                {"langs": list(languages)},
            )
            gone += int(result.rowcount)  # type: ignore[attr-defined]
        return gone

    async def label_languages(self) -> list[str]:
        """The languages the taxonomy holds labels in."""
        found = await self.session.scalars(select(EscoLabel.lang).distinct())
        return sorted(found)

    async def labels_to_embed(self) -> list[str]:
        """Every distinct label that names a concept (preferred and alternative), in order:
        read once, so paging through them costs one sort, not one per page."""
        stmt = (
            select(EscoLabel.label)
            .where(EscoLabel.kind.in_(EMBEDDED_LABELS))
            .group_by(EscoLabel.label)
            .order_by(EscoLabel.label)
        )
        return list(await self.session.scalars(stmt))

    async def refresh_label_vectors(
        self, model_id: str, label_hash: Callable[[str], bytes], page: int = 2000
    ) -> int:
        """Makes ``esco_label_vectors`` hold, under ``model_id``, the vector of every concept
        label the label cache has one for (and nothing else); returns how many it holds.
        Written ``page`` concepts a statement (each insert also grows an HNSW index). The
        cache is keyed by ``label_hash`` of each label's key, computed here: its key never
        enters SQL."""
        await self.session.execute(
            text(
                "DELETE FROM esco_label_vectors v WHERE v.model_id = :m AND NOT EXISTS ("
                "SELECT FROM esco_labels l WHERE l.uri = v.uri AND l.lang = v.lang "
                "AND l.kind = v.kind AND l.label = v.label)"
            ),
            {"m": model_id},
        )
        uris = list(
            await self.session.scalars(
                select(EscoConcept.uri)
                .where(EscoConcept.kind.in_(("skill", "occupation")))
                .order_by(EscoConcept.uri)
            )
        )
        for start in range(0, len(uris), page):
            part = uris[start : start + page]
            keys = list(
                await self.session.scalars(
                    select(EscoLabel.key)
                    .where(EscoLabel.uri.in_(part), EscoLabel.kind.in_(EMBEDDED_LABELS))
                    .distinct()
                )
            )
            if not keys:
                continue
            await self.session.execute(
                text(
                    "INSERT INTO esco_label_vectors (model_id, uri, lang, kind, label, "
                    "concept_kind, embedding) SELECT :m, l.uri, l.lang, l.kind, l.label, "
                    "c.kind, e.embedding FROM esco_labels l JOIN esco_concepts c "
                    "ON c.uri = l.uri JOIN unnest(CAST(:keys AS text[]), "
                    "CAST(:hashes AS bytea[])) AS h(key, hash) ON h.key = l.key "
                    "JOIN skill_embeddings e ON e.model_id = :m AND e.label_hash = h.hash "
                    "WHERE l.uri = ANY(:uris) AND l.kind = ANY(:kinds) "
                    "ON CONFLICT DO NOTHING"
                ),
                {
                    "m": model_id,
                    "keys": keys,
                    "hashes": [label_hash(key) for key in keys],
                    "uris": part,
                    "kinds": list(EMBEDDED_LABELS),
                },
            )
        held = await self.session.scalar(
            select(func.count())
            .select_from(EscoLabelVector)
            .where(EscoLabelVector.model_id == model_id)
        )
        return int(held or 0)

    # -- rows linked to the taxonomy -----------------------------------------------------------

    @staticmethod
    def _unlinked(table: type[Candidate] | type[Vacancy], imported: str, model_id: str) -> Any:
        """Rows of every tenant whose links are not from this import under this model, or
        were made by an earlier version of linking (``LINKS_VERSION``)."""
        return (
            table.esco.is_(None)
            | (table.esco["import"].astext != imported)
            | table.esco["model"].astext.is_distinct_from(model_id)
            | table.esco["version"].astext.is_distinct_from(str(LINKS_VERSION))
        )

    async def unlinked_rows(
        self,
        table: type[Candidate] | type[Vacancy],
        imported: str,
        model_id: str,
        after: uuid.UUID | None,
        page: int,
    ) -> Sequence[Candidate | Vacancy]:
        """The next ``page`` such rows by id after ``after``, locked; rows a writer holds are
        skipped (that write links them)."""
        stmt = select(table).where(self._unlinked(table, imported, model_id))
        if after is not None:
            stmt = stmt.where(table.id > after)
        stmt = stmt.order_by(table.id).limit(page).with_for_update(skip_locked=True)
        return cast(Sequence[Candidate | Vacancy], (await self.session.scalars(stmt)).all())

    async def count_unlinked(
        self, table: type[Candidate] | type[Vacancy], imported: str, model_id: str
    ) -> int:
        stmt = (
            select(func.count()).select_from(table).where(self._unlinked(table, imported, model_id))
        )
        return int(await self.session.scalar(stmt) or 0)

    async def counts(self) -> dict[str, Any]:
        """Concepts per kind, labels per language, relations per kind."""
        concepts = await self.session.execute(
            select(EscoConcept.kind, func.count()).group_by(EscoConcept.kind)
        )
        labels = await self.session.execute(
            select(EscoLabel.lang, func.count()).group_by(EscoLabel.lang)
        )
        relations = await self.session.execute(
            select(EscoRelation.relation, func.count()).group_by(EscoRelation.relation)
        )
        return {
            "concepts": {k: int(n) for k, n in concepts},
            "labels": {k: int(n) for k, n in labels},
            "relations": {k: int(n) for k, n in relations},
        }
