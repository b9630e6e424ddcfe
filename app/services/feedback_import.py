"""Loading a programme's feedback history from a JSON Lines file (``ponte feedback import``).

Each line is one event in the body of ``POST /v1/feedback``. Lines are recorded in batches,
each batch one transaction through the same service as the API, so an import is idempotent
(each event's key decides) and an interrupted one resumes by running it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.schemas import Principal
from app.services.feedback import FeedbackService
from app.services.resources import first_error

BATCH = 500


@dataclass
class ImportSummary:
    created: int = 0
    duplicate: int = 0
    refused: int = 0
    # (line number, what was wrong), the first ones only
    problems: list[tuple[int, str]] = field(default_factory=list)

    def refuse(self, line: int, why: str) -> None:
        self.refused += 1
        if len(self.problems) < 50:
            self.problems.append((line, why))


def _why(problem: dict[str, Any]) -> str:
    errors = problem.get("errors")
    return first_error(errors) if errors else str(problem.get("detail", problem["title"]))


async def import_lines(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    lines: Iterable[str],
    advance: Callable[[int], None] = lambda _: None,
) -> ImportSummary:
    """Records every line's event; ``advance(n)`` is called after each batch of ``n`` lines."""
    summary = ImportSummary()
    batch: list[tuple[int, Any]] = []

    async def flush() -> None:
        async with sessions() as session, session.begin():
            answer = await FeedbackService(session, principal).record_many([b for _, b in batch])
        for (number, _), item in zip(batch, answer["items"], strict=True):
            if item["status"] == "error":
                summary.refuse(number, _why(item["problem"]))
            elif item["status"] == "created":
                summary.created += 1
            else:
                summary.duplicate += 1
        advance(len(batch))
        batch.clear()

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            batch.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError:
            summary.refuse(number, "not a JSON object")
            continue
        if len(batch) >= BATCH:
            await flush()
    if batch:
        await flush()
    return summary
