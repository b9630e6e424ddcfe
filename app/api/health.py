"""Liveness, readiness and metrics: unauthenticated, and free of personal data."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.problems import problem
from app.services import model_registry
from app.services.health import readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Database reachable, migrations at head, model loaded")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    result = await readiness(
        getattr(state, "sessionmaker", None),
        state.migration_head,
        state.migration_known,
        state.encoder.dimension if getattr(state, "encoder", None) is not None else None,
    )
    # A learned ranker that cannot be loaded degrades ranking to the default scorer; the
    # service stays ready, and says so here.
    result["checks"]["rankers"] = model_registry.health()
    if result["ready"]:
        return JSONResponse({"status": "ready", "checks": result["checks"]})
    return problem(
        request,
        503,
        "not-ready",
        "Not ready",
        "; ".join(
            f"{k}: {v}"
            for k, v in result["checks"].items()
            if v not in ("ok", "ahead") and k != "rankers"
        ),
        extra={"checks": result["checks"]},
        headers={"Retry-After": "5"},
    )


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
