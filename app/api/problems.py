"""RFC 9457 problem+json for every error, and the handlers that produce it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import PROBLEM_BASE, AppError, sqlstate_of
from app.logging import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger("ponte.errors")

_HTTP_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


def problem(
    request: Request,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """Returns a problem+json response."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    cleaned = []
    for err in errors:
        entry = {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
        cleaned.append(entry)
    return cleaned


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem(
        request, exc.status, exc.code, exc.title, exc.detail, errors=exc.errors, headers=exc.headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _clean_errors(exc.errors())
    if any(e["type"] == "json_invalid" for e in errors):
        return problem(request, 400, "malformed-json", "The body is not valid JSON", errors=errors)
    return problem(request, 422, "validation-failed", "The request is not valid", errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http-{exc.status_code}")
    title = str(exc.detail) if exc.detail else code.replace("-", " ").capitalize()
    return problem(request, exc.status_code, code, title, headers=getattr(exc, "headers", None))


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("integrity_error", error=type(exc).__name__)
    return problem(
        request, 409, "conflict", "Conflict", "the change conflicts with stored data; retry"
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("database_unavailable", error=type(exc).__name__)
    return problem(
        request,
        503,
        "unavailable",
        "Service unavailable",
        "the database cannot be reached; retry later",
        headers={"Retry-After": "5"},
    )


# Deadlock and serialization failures: the transaction lost a race and was rolled back whole.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    sqlstate = sqlstate_of(exc) if isinstance(exc, DBAPIError) else None
    if sqlstate in RETRYABLE_SQLSTATES:
        log.warning("transaction_conflict", sqlstate=sqlstate)
        return problem(
            request,
            409,
            "conflict",
            "Conflict",
            "the request met a concurrent change and was rolled back whole; retry",
            headers={"Retry-After": "1"},
        )
    log.exception("unhandled_error", error=type(exc).__name__)
    return problem(request, 500, "internal", "Internal error")


def register_problem_handlers(app: FastAPI) -> None:
    """Makes every error, expected or not, leave as problem+json."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    for exc_type in (OperationalError, InterfaceError, OSError, TimeoutError):
        app.add_exception_handler(exc_type, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
