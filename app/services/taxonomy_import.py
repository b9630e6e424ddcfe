"""``ponte taxonomy import``: the ESCO CSV download (app/ml/esco_files.py) into the shared
taxonomy tables, then every concept label's vector.

Idempotent and resumable. Each file is written in transactions of a few thousand rows, and
writes replace (a concept's labels per language, a source's relations per kind), so redoing
any part is harmless; when a file is done its sha256 is recorded on the import, and a rerun of
the same version skips the files it has done unchanged. Labels are embedded through the
skill-label cache (``skill_embeddings``, by model and keyed label hash) a page at a time, each page
committed: a rerun embeds only what the cache lacks for the model, and a label a profile
shares with ESCO is embedded once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.errors import BadRequest, Conflict
from app.ml.encoder import Encoder
from app.ml.esco_files import EscoFile, RelationRow, find_files, read_concepts, read_relations
from app.repositories.taxonomy import TaxonomyRepository
from app.repositories.tenants import TenantRepository
from app.schemas import Principal
from app.services import audit
from app.services.label_key import label_hash
from app.services.taxonomy_linking import forget_links
from app.services.vectors import VectorService

SOURCE = "esco"
CONCEPT_BATCH = 2000
SOURCE_BATCH = 500  # relation sources per transaction
LABEL_PAGE = 2000
_RELATIONS = {
    "occupationSkillRelations": ("essential", "optional"),
    "broaderRelationsOccPillar": ("broader",),
}

# stage ("file name" or "labels"), rows advanced, rows in all when known
Progress = Callable[[str, int, int | None], None]


def _quiet(stage: str, advance: int, total: int | None) -> None:
    return None


@dataclass
class ImportReport:
    import_id: str
    version: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    labels: int = 0
    labels_embedded: int = 0
    embed_seconds: float = 0.0
    unchanged: bool = False  # every file done before, nothing embedded: the last import stands
    dropped: int = 0  # labels, descriptions, label vectors of languages not chosen, removed


def esco_files(folder: Path, languages: Sequence[str] | None = None) -> list[EscoFile]:
    """The ESCO files of ``folder``, in the order they are imported; none is an error.
    ``languages``: only these languages' concept files (relation files, the same in every
    language, are read whatever theirs); each must have one in the folder."""
    if not folder.is_dir():
        raise BadRequest(f"{folder} is not a folder")
    files = find_files(folder)
    if not files:
        raise BadRequest(
            f"no ESCO CSV files in {folder} (occupations_<lang>.csv, skills_<lang>.csv, …)"
        )
    if languages is None:
        return files
    present = sorted({f.lang for f in files if f.holds_concepts})
    missing = sorted(set(languages) - set(present))
    if missing:
        raise BadRequest(
            f"no ESCO concept files in {', '.join(missing)} in {folder} "
            f"(languages there: {', '.join(present) or 'none'})"
        )
    chosen = [f for f in files if not f.holds_concepts or f.lang in languages]
    # every kind of concept the folder has must come in a chosen language: the others' labels
    # are removed, and a concept with none could not be linked or named
    uncovered = sorted(
        {f.stem for f in files if f.holds_concepts} - {f.stem for f in chosen if f.holds_concepts}
    )
    if uncovered:
        where = "; ".join(
            f"{stem} in {', '.join(sorted(f.lang for f in files if f.stem == stem))}"
            for stem in uncovered
        )
        raise BadRequest(
            f"--languages {','.join(languages)} leaves concepts without labels: {folder} has no "
            f"{', '.join(uncovered)} file in them ({where} only); add one of those languages"
        )
    return chosen


async def import_esco(
    sessions: async_sessionmaker[AsyncSession],
    files: list[EscoFile],
    version: str,
    encoder: Encoder | None,
    progress: Progress = _quiet,
    languages: Sequence[str] | None = None,
) -> ImportReport:
    """Imports ``files`` (:func:`esco_files`) as ``version``; embeds the labels with
    ``encoder`` (none: labels are left for a later run). ``languages``: the taxonomy is to hold
    these languages only — labels, descriptions and label vectors of any other, imported
    before, are removed (what linking searches and holds in memory grows with each language).
    One import at a time: another one running is a Conflict (it could remove what this one
    writes)."""
    async with sessions() as guard:  # its transaction, and the lock, last until the end
        if not await TaxonomyRepository(guard).lock_imports():
            raise Conflict("another taxonomy import is running; wait for it to end")
        return await _import(sessions, files, version, encoder, progress, languages)


async def _import(
    sessions: async_sessionmaker[AsyncSession],
    files: list[EscoFile],
    version: str,
    encoder: Encoder | None,
    progress: Progress,
    languages: Sequence[str] | None,
) -> ImportReport:
    read = sorted({f.lang for f in files if f.holds_concepts})
    async with sessions() as session, session.begin():
        repo = TaxonomyRepository(session)
        run = await repo.open_import(SOURCE, version, sorted(languages or read))
        done = await repo.files_done(SOURCE, version)
        held = set(await repo.label_languages())
    report = ImportReport(str(run.id), version)
    for file in files:
        digest = file.sha256()
        # a concept file done before is done again if its language was removed since
        if done.get(file.name) == digest and (not file.holds_concepts or file.lang in held):
            report.files[file.name] = {"skipped": True}
            continue
        if file.holds_concepts:
            rows, dropped = await _concepts(sessions, file, run.id, progress), 0
        else:
            rows, dropped = await _relations(sessions, file, progress)
        async with sessions() as session, session.begin():
            await TaxonomyRepository(session).file_done(run.id, file.name, digest, rows)
        report.files[file.name] = {"rows": rows, "left_out": dropped}
    if languages is not None:
        async with sessions() as session, session.begin():
            report.dropped = await TaxonomyRepository(session).keep_languages(languages)
    if encoder is not None:
        report.labels, report.labels_embedded, report.embed_seconds = await embed_labels(
            sessions, encoder, progress
        )
    unchanged = all(entry.get("skipped") for entry in report.files.values())
    async with sessions() as session, session.begin():
        repo = TaxonomyRepository(session)
        latest = await repo.latest()
        model_id = encoder.model_id if encoder else None
        if (
            unchanged
            and latest is not None
            and latest.version == version
            and latest.model_id == model_id
            and not report.labels_embedded
            and not report.dropped
        ):
            # nothing new: the import links are made from stays the one they were made from
            await repo.discard(run.id)
            report.import_id, report.unchanged = str(latest.id), True
        else:
            await repo.finish(run.id, model_id, report.labels_embedded, report.embed_seconds)
        report.counts = await repo.counts()
        if not report.unchanged:
            # the taxonomy is the deployment's, and every tenant's rankings read it
            act = audit.Act(
                "taxonomy.import",
                [audit.ref("taxonomy_import", report.import_id)],
                model_version=model_id,
                detail={"source": SOURCE, "version": version, "files": len(report.files)},
            )
            for tenant in await TenantRepository(session).list():
                operator = Principal.operator(tenant.id, tenant.name, "taxonomy import")
                await audit.record(session, operator, act)
    forget_links()  # this process links from the new import at once
    return report


async def _concepts(
    sessions: async_sessionmaker[AsyncSession], file: EscoFile, import_id: Any, progress: Progress
) -> int:
    count = 0
    batch = []
    for row in read_concepts(file):
        batch.append(row)
        if len(batch) >= CONCEPT_BATCH:
            count += await _put_concepts(sessions, batch, import_id)
            progress(file.name, len(batch), None)
            batch = []
    if batch:
        count += await _put_concepts(sessions, batch, import_id)
        progress(file.name, len(batch), None)
    return count


async def _put_concepts(
    sessions: async_sessionmaker[AsyncSession], batch: list[Any], import_id: Any
) -> int:
    async with sessions() as session, session.begin():
        await TaxonomyRepository(session).put_concepts(batch, import_id)
    return len(batch)


async def _relations(
    sessions: async_sessionmaker[AsyncSession], file: EscoFile, progress: Progress
) -> tuple[int, int]:
    """Writes a relation file's rows whose two ends are known concepts; returns (written, left
    out)."""
    async with sessions() as session:
        known = await TaxonomyRepository(session).known_uris()
    by_source: dict[str, list[RelationRow]] = {}
    dropped = 0
    for row in read_relations(file):
        if row.source_uri in known and row.target_uri in known:
            by_source.setdefault(row.source_uri, []).append(row)
        else:
            dropped += 1
    sources = list(by_source)
    written = 0
    for start in range(0, len(sources), SOURCE_BATCH):
        part = sources[start : start + SOURCE_BATCH]
        rows = [row for source in part for row in by_source[source]]
        async with sessions() as session, session.begin():
            await TaxonomyRepository(session).put_relations(part, _RELATIONS[file.stem], rows)
        written += len(rows)
        progress(file.name, len(rows), None)
    return written, dropped


async def embed_labels(
    sessions: async_sessionmaker[AsyncSession], encoder: Encoder, progress: Progress
) -> tuple[int, int, float]:
    """Makes sure every concept label has a vector under the encoder's model, in the label
    cache and beside its concept; returns (labels, newly embedded, seconds)."""
    clock = time.perf_counter()
    async with sessions() as session:
        labels = await TaxonomyRepository(session).labels_to_embed()
    embedded = 0
    for start in range(0, len(labels), LABEL_PAGE):
        page = labels[start : start + LABEL_PAGE]
        async with sessions() as session, session.begin():
            embedded += await VectorService(session, encoder).store_skill_vectors(page)
        progress("labels", len(page), len(labels))
    async with sessions() as session, session.begin():
        # beside their concepts, indexed for linking's nearest-label search
        await TaxonomyRepository(session).refresh_label_vectors(encoder.model_id, label_hash)
    return len(labels), embedded, time.perf_counter() - clock
