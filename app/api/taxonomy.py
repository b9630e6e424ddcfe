"""The ESCO taxonomy: link texts to skills or occupations, read a concept (any role)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from app.deps import EncoderDep, SessionDep, require
from app.schemas import Principal, Strict
from app.services.authz import Permission
from app.services.taxonomy import TaxonomyService

router = APIRouter(tags=["taxonomy"])
Reader = Annotated[Principal, require(Permission.taxonomy_read)]


class LinkRequest(Strict):
    texts: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        min_length=1, max_length=100, description="Skill phrases or job titles, in any language"
    )
    limit: int = Field(default=10, ge=1, le=50, description="Concepts per text")
    lang: str = Field(
        default="en",
        pattern=r"^[a-z]{2,3}$",
        description="Language of the labels shown (English where a concept has none in it)",
    )


def _link_route(kind: str, plural: str) -> None:
    @router.post(
        f"/v1/taxonomy/{plural}:link",
        summary=f"Link texts to ESCO {plural}: per text, in order, the best with their scores",
        name=f"link_{plural}",
    )
    async def link(
        body: LinkRequest, session: SessionDep, encoder: EncoderDep, principal: Reader
    ) -> Any:
        items = await TaxonomyService(session, encoder).link_view(
            kind, body.texts, body.limit, body.lang
        )
        return {"items": items}

    @router.get(
        f"/v1/taxonomy/{plural}/{{uri:path}}",
        summary=f"One ESCO {kind} by URI (or its last segment): labels per language, relations",
        name=f"get_{kind}",
    )
    async def concept(uri: str, session: SessionDep, encoder: EncoderDep, principal: Reader) -> Any:
        return await TaxonomyService(session, encoder).concept(kind, uri)


_link_route("skill", "skills")
_link_route("occupation", "occupations")
