"""Links of texts, candidates and vacancies to the ESCO taxonomy (issue 15).

A text's links are app/ml/concept_links.py's ranking of its exact and nearest labels; they are
remembered per process (labels recur across thousands of profiles), keyed by the import and
the model, so a new import or model never serves old links. On every write of a candidate or
a vacancy, after its vectors, its links are derived and stored on the row (``esco``): each
skill label's best skill, a vacancy title's best three occupations, each desired occupation's
best three — automatic links only at ``LINK_THRESHOLD`` or above — a vacancy title's fifty
nearest occupations with their scores (for ranking, app/ml/taxonomy_match.py), and the three
occupations the row's linked skills show best (source ``skills``, app/ml/taxonomy_match.py), what a
candidate naming no desired occupation is matched on. A link the caller gave
(``esco_uri`` on a skill, ``occupation_uri`` on a vacancy) wins, with source ``caller``. With
no taxonomy imported (or its labels not embedded with the service's model) nothing is linked
and ``esco`` stays empty.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.tables import Candidate, Vacancy
from app.errors import ValidationFailed
from app.ml.concept_links import (
    LEXICAL_WEIGHTS,
    LINK_THRESHOLD,
    LINKS_VERSION,
    Link,
    contained_keys,
    contained_matches,
    rank_links,
)
from app.ml.encoder import Encoder
from app.ml.languages import detect_language
from app.ml.taxonomy_match import TITLE_OCCUPATIONS, Taxonomy
from app.ml.text import skill_key, skill_labels
from app.repositories.taxonomy import TaxonomyRepository
from app.repositories.taxonomy_links import TaxonomyLinkRepository
from app.services.lru import Lru
from app.services.taxonomy_model import forget_taxonomy, lexicon_of, taxonomy_of, word_forms_of
from app.services.vectors import VectorService

NEAREST_LABELS = 100  # labels searched per text (several labels of a concept may come first)
OCCUPATIONS_PER_TEXT = 3
_CHECK_EVERY_S = 60.0
# ten links a text at most: about 1.5 KB an entry, so some 30 MB at the cap
_LINKS: Lru[tuple[str, str, str, str], tuple[Link, ...]] = Lru(20_000)
# a title's nearest occupations for ranking: fifty scores a title, some 5 KB an entry
_TITLES: Lru[tuple[str, str, str], dict[str, float]] = Lru(5_000)
_CURRENT: dict[str, tuple[float, str | None]] = {}  # model → (checked at, import id)


class TaxonomyLinker:
    def __init__(self, session: AsyncSession, encoder: Encoder) -> None:
        self.session = session
        self.encoder = encoder
        self.repo = TaxonomyLinkRepository(session)

    async def current(self, *, fresh: bool = False) -> str | None:
        """The import links are made from (None: no taxonomy, or not embedded with this
        model), looked up at most once a minute per process unless ``fresh``."""
        model_id = self.encoder.model_id
        checked = _CURRENT.get(model_id)
        now = time.monotonic()
        if not fresh and checked is not None and now - checked[0] < _CHECK_EVERY_S:
            return checked[1]
        latest = await TaxonomyRepository(self.session).latest()
        found = None
        if latest is not None and await self.repo.has_vectors("skill", model_id):
            found = str(latest.id)
        _CURRENT[model_id] = (now, found)
        return found

    async def check_given(
        self,
        field: str,
        skills: Sequence[Any],
        occupation_uri: str | None = None,
        at: int | None = None,
    ) -> None:
        """Refuses (422) a caller's ESCO URI that names no skill (or occupation) of the
        imported taxonomy; with none imported there is nothing to check against."""
        given = [
            (n, item["esco_uri"])
            for n, item in enumerate(skills)
            if isinstance(item, dict) and item.get("esco_uri")
        ]
        if not given and not occupation_uri:
            return
        if await TaxonomyRepository(self.session).latest() is None:
            return
        known = await self.repo.known("skill", [uri for _, uri in given])
        for n, uri in given:
            if uri not in known:
                raise ValidationFailed(
                    f"no ESCO skill '{uri}' in the imported taxonomy",
                    errors=[{"loc": ["body", field, n, "esco_uri"], "msg": "unknown ESCO skill",
                             "type": "reference"}],
                )  # fmt: skip
        if occupation_uri and not await self.repo.known("occupation", [occupation_uri]):
            message = f"no ESCO occupation '{occupation_uri}' in the imported taxonomy"
            if at is None:
                raise ValidationFailed.of_field("occupation_uri", message)
            raise ValidationFailed(
                message,
                errors=[{"loc": ["body", field, at, "occupation_uri"], "msg": message,
                         "type": "reference"}],
            )  # fmt: skip

    async def links(
        self,
        concept_kind: str,
        texts: Sequence[str],
        limit: int,
        vectors: dict[str, Any] | None = None,
    ) -> list[list[Link]]:
        """Per text, its ``limit`` best concepts of this kind (an error-free empty list per
        text when nothing is imported). ``vectors``: the texts' vectors by skill key, where the
        caller has them (skill labels: the label cache's)."""
        imported = await self.current()
        if imported is None:
            return [[] for _ in texts]
        model_id = self.encoder.model_id
        keys = [skill_key(t) for t in texts]
        found: dict[str, tuple[Link, ...]] = {}
        for key in keys:
            held = _LINKS.get((imported, model_id, concept_kind, key))
            if held is not None and len(held) >= limit:
                found[key] = held
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            text_of = {k: t for k, t in zip(keys, texts, strict=True)}
            ranked = await self._ranked(
                imported, concept_kind, text_of, missing, max(limit, 10), vectors
            )
            for key, links in ranked.items():
                _LINKS.put((imported, model_id, concept_kind, key), links)
            found |= ranked
        return [list(found[key][:limit]) for key in keys]

    async def title_occupations(
        self, titles: Sequence[str], vectors: dict[str, Any] | None = None
    ) -> list[dict[str, float]]:
        """Per title, its ``TITLE_OCCUPATIONS`` nearest occupations with their link scores
        (what the title_occupation feature reads, app/ml/taxonomy_match.py), remembered per
        title apart from the stored links' cache; empty with no taxonomy. ``vectors``: titles'
        vectors already made by this model, by comparison key (not encoded again)."""
        imported = await self.current()
        if imported is None:
            return [{} for _ in titles]
        model_id = self.encoder.model_id
        keys = [skill_key(t) for t in titles]
        found = {
            k: held for k in keys if (held := _TITLES.get((imported, model_id, k))) is not None
        }
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            text_of = {k: t for k, t in zip(keys, titles, strict=True)}
            ranked = await self._ranked(
                imported, "occupation", text_of, missing, TITLE_OCCUPATIONS, vectors
            )
            for key, links in ranked.items():
                found[key] = {link.uri: link.score for link in links}
                _TITLES.put((imported, model_id, key), found[key])
                # the same search answers the title's stored links (``links``): not twice
                _LINKS.put((imported, model_id, "occupation", key), links[:10])
        return [found.get(key, {}) for key in keys]

    async def _ranked(
        self,
        imported: str,
        concept_kind: str,
        text_of: dict[str, str],
        keys: Sequence[str],
        limit: int,
        vectors: dict[str, Any] | None = None,
    ) -> dict[str, tuple[Link, ...]]:
        """The ``limit`` best concepts of each text (by key): exact labels, labels the text
        contains, nearest labels and their concepts' lexical shares of the text
        (app/ml/concept_links.py)."""
        known = vectors or {}
        to_encode = [k for k in keys if k not in known]
        by_key: dict[str, Any] = {k: known[k] for k in keys if k in known}
        if to_encode:
            encoded = await asyncio.to_thread(self.encoder.encode, [text_of[k] for k in to_encode])
            by_key |= dict(zip(to_encode, encoded, strict=True))
        inside = {k: contained_keys(text_of[k], detect_language(text_of[k])) for k in keys}
        # one look-up for the whole texts and the runs of words inside them
        exact = words = await self.repo.exact(
            concept_kind, list({*keys, *(w for runs in inside.values() for w in runs)})
        )
        punctuated = await word_forms_of(self.session, imported, concept_kind)
        nearest = await self.repo.nearest(
            concept_kind,
            self.encoder.model_id,
            np.stack([np.asarray(by_key[k], dtype=np.float32) for k in keys]),
            NEAREST_LABELS,
        )
        weight = LEXICAL_WEIGHTS.get(concept_kind, 0.0)
        lexicon = await lexicon_of(self.session, imported, concept_kind) if weight else None
        ranked = {}
        for key, near in zip(keys, nearest, strict=True):
            shares = None
            if lexicon is not None:
                shares = lexicon.shares(text_of[key], list({m.uri for m in near}))
            matches = [
                *exact.get(key, []),
                *contained_matches(inside[key], words, punctuated),
                *near,
            ]
            ranked[key] = tuple(rank_links(matches, limit, shares, weight))
        return ranked

    async def link_rows(self, rows: Sequence[Candidate | Vacancy]) -> None:
        """Derives and stores the rows' links (``esco``), all the rows' texts in one go."""
        if not rows:
            return
        imported = await self.current()
        if imported is None:
            # nothing to link from (no taxonomy, or not under this model): old links would
            # describe what the row no longer says
            for row in rows:
                row.esco = None
            await self.session.flush()
            return
        # the title's nearest occupations, kept for ranking (title_occupation) so that no
        # shortlist searches them; first, so that its search also answers the title's links
        # (not for a vacancy whose caller named its occupation: that one is used instead)
        vacancies = [row for row in rows if isinstance(row, Vacancy) and not row.occupation_uri]
        # a title embedded on this write (or since the model last changed) is not encoded again
        made = {
            skill_key(row.title): row.title_embedding
            for row in vacancies
            if row.title_embedding is not None and row.embedding_model == self.encoder.model_id
        }
        named = dict(
            zip(
                [row.id for row in vacancies],
                await self.title_occupations([row.title for row in vacancies], made),
                strict=True,
            )
        )
        labels = [label for row in rows for label in _skill_texts(row)]
        occupations = [text for row in rows for text in _occupation_texts(row)]
        vectors = await VectorService(self.session, self.encoder).skill_vectors(labels)
        skill_links = dict(
            zip(
                [skill_key(label) for label in labels],
                await self.links("skill", labels, 1, vectors),
                strict=True,
            )
        )
        occupation_links = dict(
            zip(
                [skill_key(text) for text in occupations],
                await self.links("occupation", occupations, OCCUPATIONS_PER_TEXT),
                strict=True,
            )
        )
        taxonomy = await taxonomy_of(self.session, imported)
        for row in rows:
            row.esco = _row_links(
                row, taxonomy, self.encoder.model_id, skill_links, occupation_links
            )
            if isinstance(row, Vacancy):
                # the caller's occupation wins here too: the title then names only it
                nearest = (
                    {_caller_uri(row.occupation_uri): 1.0}
                    if row.occupation_uri
                    else {uri: round(score, 4) for uri, score in named[row.id].items()}
                )
                row.esco["title_occupations"] = nearest
        await self.session.flush()


async def relink(
    sessions: async_sessionmaker[AsyncSession],
    encoder: Encoder,
    page: int = 500,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Links every candidate and vacancy (of every tenant) not linked from the current import
    under the current model yet, ``page`` rows a transaction; returns how many of each were
    linked, and how many are left (rows a writer held meanwhile, skipped: that write links
    them, or a rerun does). What a new import (or model) is followed by; a rerun goes on
    where one stopped."""
    async with sessions() as session:
        imported = await TaxonomyLinker(session, encoder).current(fresh=True)
    done = {"candidates": 0, "vacancies": 0, "left": 0}
    if imported is None:
        return done
    for name, table in (("candidates", Candidate), ("vacancies", Vacancy)):
        after: Any = None
        while True:
            async with sessions() as session, session.begin():
                rows: list[Candidate | Vacancy] = list(
                    await TaxonomyRepository(session).unlinked_rows(
                        table, imported, encoder.model_id, after, page
                    )
                )
                if not rows:
                    break
                await TaxonomyLinker(session, encoder).link_rows(rows)
            after = rows[-1].id
            done[name] += len(rows)
            if progress is not None:
                progress(name, len(rows))
        async with sessions() as session:
            # rows a writer held meanwhile (and so skipped), left for its write or a rerun
            done["left"] += await TaxonomyRepository(session).count_unlinked(
                table, imported, encoder.model_id
            )
    return done


def _skill_texts(row: Candidate | Vacancy) -> list[str]:
    items = row.skills if isinstance(row, Candidate) else row.required_skills
    return skill_labels(items or [])


def _occupation_texts(row: Candidate | Vacancy) -> list[str]:
    """The names Ponte links to occupations: those the caller did not link themselves."""
    if isinstance(row, Candidate):
        given = row.desired_occupation_uris or {}
        return [t for t in (row.desired_occupations or []) if t.strip() and t not in given]
    return [] if row.occupation_uri else [row.title]


def _caller_uri(uri: str) -> str:
    """A URI a caller gave, as the taxonomy spells it: ESCO's URIs are lower case (and a
    caller's stored before an import was not checked against one)."""
    return uri.lower()


def _link_view(link: Link) -> dict[str, Any]:
    return {"uri": link.uri, "score": round(link.score, 4), "source": "auto"}


def _row_links(
    row: Candidate | Vacancy,
    taxonomy: Taxonomy,
    model_id: str,
    skill_links: dict[str, list[Link]],
    occupation_links: dict[str, list[Link]],
) -> dict[str, Any]:
    items = row.skills if isinstance(row, Candidate) else row.required_skills
    skills = []
    for item in items or []:
        label = item["label"] if isinstance(item, dict) else str(item)
        given = item.get("esco_uri") if isinstance(item, dict) else None
        if given:
            skills.append(
                {"label": label, "uri": _caller_uri(given), "score": 1.0, "source": "caller"}
            )
            continue
        best = skill_links.get(skill_key(label), [])
        if best and best[0].score >= LINK_THRESHOLD:
            skills.append({"label": label, **_link_view(best[0])})
    occupations: list[dict[str, Any]] = []
    if isinstance(row, Vacancy) and row.occupation_uri:
        occupations.append(
            {"uri": _caller_uri(row.occupation_uri), "score": 1.0, "source": "caller"}
        )
    if isinstance(row, Candidate):
        for text, uri in (row.desired_occupation_uris or {}).items():
            occupations.append(
                {"text": text, "uri": _caller_uri(uri), "score": 1.0, "source": "caller"}
            )
    for text in _occupation_texts(row):
        for link in occupation_links.get(skill_key(text), []):
            if link.score >= LINK_THRESHOLD:
                occupations.append({"text": text, **_link_view(link)})
    for uri, score in taxonomy.infer_occupations([s["uri"] for s in skills]):
        occupations.append({"uri": uri, "score": score, "source": "skills"})
    return {
        "version": LINKS_VERSION,
        "import": taxonomy.import_id,
        "model": model_id,
        "skills": skills,
        "occupations": occupations,
    }


def forget_texts(texts: Iterable[str]) -> None:
    """Drops this process's links of these texts (an erased person's skills and desired
    occupations: the cache is keyed by their words)."""
    keys = {skill_key(t) for t in texts}
    if keys:
        _LINKS.discard_where(lambda held: held[-1] in keys)


def forget_links() -> None:
    """Drops what this process remembers (tests; a new import is seen within a minute)."""
    _LINKS.clear()
    _TITLES.clear()
    _CURRENT.clear()
    forget_taxonomy()
