"""The size of the stored vectors, and moving them to a model of another size.

Every vector column is ``vector(N)``, N being the dimension of the model that wrote it: the
migrations create them at 384 (all-MiniLM-L6-v2's, ``EMBEDDING_DIM``). pgvector builds an HNSW
index only over a column of one declared size, so the size is the schema's, not a row's. A model
of another size is moved to by :func:`resize` (run by ``ponte reembed --all``; docs/deploy.md):
in one transaction every stored vector goes — each was made by the old model, and the texts they
came from stay — the columns take the new size and the vector indexes are built again, empty;
re-embedding then fills them. Interrupted after that transaction, a plain ``ponte reembed`` resumes:
the rows without a vector are the ones left. The service checks the size on start
(:func:`check_dimension`) and refuses a model the stored vectors do not fit.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# (table, column) of every vector Ponte stores; the SQL below names only these constants.
VECTOR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("candidates", "embedding"),
    ("candidates", "occupation_embedding"),
    ("vacancies", "embedding"),
    ("vacancies", "title_embedding"),
    ("candidate_chunks", "embedding"),
    ("skill_embeddings", "embedding"),
    ("esco_label_vectors", "embedding"),
)
# Tables whose rows are nothing but a vector (and its key): emptied, where the others' vectors
# are set to NULL.
_VECTOR_ROWS = frozenset({"candidate_chunks", "skill_embeddings", "esco_label_vectors"})


class DimensionMismatch(RuntimeError):
    """The model's vectors do not fit the stored ones."""


async def stored_dimension(conn: AsyncConnection) -> int | None:
    """The declared size of the stored vectors (pgvector keeps it as the column's type
    modifier); None before the tables exist."""
    found = await conn.scalar(
        text(
            "SELECT a.atttypmod FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass('public.candidates') AND a.attname = 'embedding'"
        )
    )
    return None if found is None else int(found)


async def other_model_rows(conn: AsyncConnection, model_id: str) -> dict[str, int]:
    """Per side, the rows whose vector a model other than ``model_id`` made."""
    found = {}
    for side in ("candidates", "vacancies"):
        found[side] = int(
            await conn.scalar(
                text(
                    f"SELECT count(*) FROM {side} WHERE embedding IS NOT NULL "  # noqa: S608
                    "AND embedding_model IS DISTINCT FROM :model"
                ),
                {"model": model_id},
            )
        )
    return found


async def holds_vectors(conn: AsyncConnection) -> bool:
    """Whether any vector is stored (a new database's columns can be resized at no cost)."""
    for table, column in VECTOR_COLUMNS:
        if await conn.scalar(
            text(f"SELECT EXISTS (SELECT FROM {table} WHERE {column} IS NOT NULL)")  # noqa: S608
        ):
            return True
    return False


async def check_dimension(conn: AsyncConnection, dimension: int, model_id: str) -> None:
    """Raises :class:`DimensionMismatch` unless the stored vectors have ``dimension`` (none is
    stored before the tables exist)."""
    stored = await stored_dimension(conn)
    if stored is not None and stored != dimension:
        raise _mismatch(stored, dimension, model_id)


def _mismatch(stored: int, dimension: int, model_id: str) -> DimensionMismatch:
    return DimensionMismatch(
        f"the model {model_id!r} makes vectors of {dimension} dimensions, the stored ones "
        f"have {stored}: `ponte reembed --all` moves every vector to the model "
        "(docs/deploy.md)"
    )


async def fit(
    conn: AsyncConnection, dimension: int, model_id: str, *, drop: bool
) -> tuple[int, int] | None:
    """Gives the vector columns ``dimension``: nothing to do when they have it (or do not
    exist yet); resized when no vector is stored, or when ``drop`` allows dropping them all;
    else :class:`DimensionMismatch`. Returns (the size before, rows that lost their vectors)
    when it resized."""
    stored = await stored_dimension(conn)
    if stored is None or stored == dimension:
        return None
    if not drop and await holds_vectors(conn):
        raise _mismatch(stored, dimension, model_id)
    return stored, await resize(conn, dimension)


async def resize(conn: AsyncConnection, dimension: int) -> int:
    """Drops every stored vector, gives every vector column ``dimension`` and rebuilds the
    vector indexes over them; returns how many rows lost their vectors. Runs in the caller's
    transaction, which must own the tables."""
    if not 1 <= dimension <= 16000:  # pgvector's limit for a vector column
        raise ValueError(f"a vector column holds 1 to 16,000 dimensions, not {dimension}")
    tables = sorted({table for table, _ in VECTOR_COLUMNS})
    # A service still running holds locks on these tables: fail fast, saying so, rather than
    # queue behind it (and block every request queued behind this).
    await conn.execute(text("SET LOCAL lock_timeout = '10s'"))
    indexes = (
        await conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = ANY(:tables) AND indexdef ~ ' USING (hnsw|ivfflat) '"
            ),
            {"tables": tables},
        )
    ).all()
    for name, _ in indexes:
        await conn.execute(text(f'DROP INDEX "{name}"'))
    cleared = 0
    for table in sorted(_VECTOR_ROWS):
        deleted = await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608
        cleared += deleted.rowcount or 0
    for table in tables:
        columns = [column for named, column in VECTOR_COLUMNS if named == table]
        if table not in _VECTOR_ROWS:
            held = " OR ".join(f"{column} IS NOT NULL" for column in columns)
            cleared += int(
                await conn.scalar(text(f"SELECT count(*) FROM {table} WHERE {held}"))  # noqa: S608
            )
        # one statement a table, so it is rewritten once; every vector in it becomes NULL, and
        # a row without one is what re-embedding picks up
        changes = ", ".join(
            f"ALTER COLUMN {column} TYPE vector({dimension}) USING NULL::vector({dimension})"
            for column in columns
        )
        await conn.execute(text(f"ALTER TABLE {table} {changes}"))
    for _, definition in indexes:
        await conn.execute(text(definition))
    return cleared
