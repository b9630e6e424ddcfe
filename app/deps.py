"""Request-scoped dependencies: the session (commits on success), the principal, role guards."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import BadRequest, ServiceUnavailable, Unauthorized, UnsupportedMediaType
from app.ml.encoder import Encoder
from app.schemas import Principal
from app.services.authz import Permission, authorize
from app.services.keys import KeyRefused, authenticate, record_refusal

log = logging.getLogger("ponte.auth")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yields a session; commits if the endpoint succeeded, rolls back otherwise."""
    factory = getattr(request.app.state, "sessionmaker", None)
    if factory is None:
        raise ServiceUnavailable("the database is not configured yet")
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# scope="function": commit before the response is sent, so a failed commit is never a 2xx.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


# Plain functions as dependencies run in a worker thread; these do no blocking work, so they
# are coroutines and stay on the event loop.
async def get_encoder(request: Request) -> Encoder:
    """Returns the process's encoder."""
    encoder: Encoder | None = getattr(request.app.state, "encoder", None)
    if encoder is None:
        raise ServiceUnavailable("the model is not loaded yet")
    return encoder


EncoderDep = Annotated[Encoder, Depends(get_encoder)]


async def get_principal(request: Request, session: SessionDep) -> Principal:
    """Returns the caller established from ``Authorization: Bearer <key>``."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send 'Authorization: Bearer <API key>'")
    try:
        principal = await authenticate(session, key.strip())
    except KeyRefused as refused:
        # The request will roll back: the refusal is recorded in a transaction of its own, on
        # this session's connection (a second one per refused request could drain the pool).
        # The route's template, not the path: paths carry callers' ids.
        route = getattr(request.scope.get("route"), "path", None) or "unmatched"
        await session.rollback()
        try:
            async with session.begin():
                await record_refusal(session, refused, route)
        except Exception:  # the 401 stands whatever recording it did
            log.exception("recording a refused key failed")
        raise
    actor_ref = request.headers.get("x-actor-ref")
    if actor_ref is not None:
        principal = principal.model_copy(update={"actor_ref": _actor_ref(actor_ref)})
    request.state.principal = principal
    return principal


def _actor_ref(value: str) -> str:
    """The caller's user reference as the audit trail keeps it: printable, at most 200."""
    value = value.strip()
    if not value or len(value) > 200 or not value.isprintable():
        raise BadRequest("X-Actor-Ref is 1–200 printable characters")
    return value


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def json_body(request: Request) -> None:
    """Refuses a body that is not declared as JSON (415), before anything reads it."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(
            "send the body as application/json (merge patches: application/merge-patch+json)"
        )


JSON_BODY = [Depends(json_body)]


def require(permission: Permission) -> Any:
    """Returns a dependency that admits only roles granted ``permission``."""

    async def guard(principal: PrincipalDep) -> Principal:
        authorize(principal, permission)
        return principal

    guard.__name__ = f"require_{permission.name}"
    return Depends(guard)
