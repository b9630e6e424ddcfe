"""Optimistic concurrency: entity tags from row versions, and the If-Match/If-None-Match rules."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.errors import PreconditionFailed


def entity_tag(row_id: uuid.UUID, version: int) -> str:
    """Returns the strong entity tag of one version of one row (a re-created row gets a new id)."""
    return f'"{row_id.hex[:16]}-{version}"'


def _tags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]


@dataclass(frozen=True)
class Preconditions:
    """The conditional headers of a write, as sent."""

    if_match: str | None = None
    if_none_match: str | None = None

    def check(self, current_tag: str | None) -> None:
        """Raises PreconditionFailed when the current state does not satisfy the headers."""
        if self.if_match is not None:
            tags = _tags(self.if_match)
            if current_tag is None or ("*" not in tags and current_tag not in tags):
                raise PreconditionFailed(
                    "If-Match does not match the current version"
                    if current_tag
                    else "If-Match given but the object does not exist"
                )
        if self.if_none_match is not None and current_tag is not None:
            tags = _tags(self.if_none_match)
            if "*" in tags or current_tag in tags:
                raise PreconditionFailed("the object exists (If-None-Match)")
