"""Learned rankers: the tenant's registry, activation and rollback (admin only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from app.deps import EncoderDep, SessionDep, require
from app.schemas import Principal
from app.services.authz import Permission
from app.services.ranker_models import RankerModelService

router = APIRouter(tags=["models"])
Reader = Annotated[Principal, require(Permission.models_read)]
Manager = Annotated[Principal, require(Permission.models_manage)]
Version = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9._+-]+$")]


@router.get("/v1/models", summary="The tenant's learned rankers, newest first, and which serves")
async def list_models(session: SessionDep, principal: Reader, encoder: EncoderDep) -> Any:
    return await RankerModelService(session, principal, encoder.model_id).list()


@router.post(
    "/v1/models/rollback",
    summary="Serve the ranker that served before the current one (possibly the default)",
)
async def rollback(session: SessionDep, principal: Manager, encoder: EncoderDep) -> Any:
    return await RankerModelService(session, principal, encoder.model_id).rollback()


@router.get("/v1/models/{version}", summary="One learned ranker: metadata and holdout figures")
async def get_model(version: Version, session: SessionDep, principal: Reader) -> Any:
    return await RankerModelService(session, principal).get(version)


@router.post(
    "/v1/models/{version}/activate",
    summary="Serve this learned ranker from the next request on, in every process",
)
async def activate(
    version: Version, session: SessionDep, principal: Manager, encoder: EncoderDep
) -> Any:
    return await RankerModelService(session, principal, encoder.model_id).activate(version)
