"""VACUUM after an erasure: the deleted rows' space is reclaimed and their index entries go,
rather than waiting for autovacuum. Runs on the owner's connection, outside any transaction
(VACUUM cannot run in one), and reports what each table's VACUUM VERBOSE said it removed."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

# What an erasure deletes or rewrites: the profile and what hangs off it, the snapshot items it
# emptied, the notes, the label cache, and the tombstones.
ERASED_TABLES = (
    "candidates",
    "candidate_chunks",
    "candidate_sensitive",
    "shortlist_items",
    "feedback_notes",
    "skill_embeddings",
    "candidate_deletions",
)
# PostgreSQL ≥ 15 reports "tuples: 12 removed, 340 remain, 0 are dead but not yet removable".
_REMOVED = re.compile(r"tuples: (\d+) removed")


async def vacuum(engine: AsyncEngine, tables: tuple[str, ...] = ERASED_TABLES) -> dict[str, Any]:
    """VACUUMs ``tables``; per table, the dead row versions removed (None where the server's
    report could not be read)."""
    removed: dict[str, Any] = {}
    async with engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        raw = (await autocommit.get_raw_connection()).driver_connection
        assert raw is not None
        said: list[str] = []

        def hear(_conn: Any, message: Any) -> None:
            said.append(str(message.message))

        raw.add_log_listener(hear)
        try:
            for table in tables:
                said.clear()
                await raw.execute(f"VACUUM (VERBOSE) {table}")
                counts = [int(m.group(1)) for line in said for m in [_REMOVED.search(line)] if m]
                removed[table] = sum(counts) if counts else None
        finally:
            raw.remove_log_listener(hear)
    return removed
