"""Opaque cursors for lists that resume after a place: the place as text, base64 of a small
JSON document, so a caller cannot mistake it for an id or build one."""

from __future__ import annotations

import base64
import binascii
import json

from app.errors import BadRequest


def encode_cursor(place: str) -> str:
    """Returns an opaque cursor that resumes after ``place`` (an external id, a time and id,
    an entry's number)."""
    raw = json.dumps({"after": place}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """Returns the place a cursor resumes after; BadRequest if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = json.loads(raw)["after"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadRequest("invalid cursor") from exc
    if not isinstance(after, str) or "\x00" in after:
        raise BadRequest("invalid cursor")
    return after
