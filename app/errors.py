"""Error types. Each maps to one HTTP status and an RFC 9457 problem type; a leaf module."""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://ponte.dev/problems/"


class AppError(Exception):
    """An expected failure that the API renders as problem+json, never as a 500."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}

    @property
    def type_uri(self) -> str:
        """Returns the problem type URI for this error class."""
        return PROBLEM_BASE + self.code

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 members of this error, for an answer that carries several (bulk)."""
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


class BadRequest(AppError):
    status, code, title = 400, "bad-request", "Bad request"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Missing or invalid API key"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="ponte"'})


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "The key's role does not allow this"


class NotFound(AppError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(AppError):
    status, code, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


class ValidationFailed(AppError):
    status, code, title = 422, "validation-failed", "The request is not valid"

    @classmethod
    def of_field(cls, field: str, message: str) -> ValidationFailed:
        """A 422 about one field of the body."""
        return cls(
            f"{field}: {message}",
            errors=[{"loc": ["body", field], "msg": message, "type": "value_error"}],
        )


class ServiceUnavailable(AppError):
    status, code, title = 503, "unavailable", "Service unavailable"


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE a database error carries (SQLAlchemy's ``orig``, or the driver's own
    exception under it), None for any other error."""
    for cause in (getattr(exc, "orig", None), exc.__cause__, exc):
        state = getattr(cause, "sqlstate", None)
        if state is None and cause is not None:
            state = getattr(cause.__cause__, "sqlstate", None)
        if state is not None:
            return str(state)
    return None
