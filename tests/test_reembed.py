"""`ponte reembed` brings vectors made by another model (or none) up to date, resumably."""

from __future__ import annotations

from tests.cli_helpers import Sql, invoker


async def test_reembed_stale_rows(cli_env, owner_engine):
    invoke = invoker(cli_env)
    sql = Sql(owner_engine)
    scalar, execute = sql.scalar, sql.execute

    assert (await invoke("demo", "--no-serve")).exit_code == 0
    candidates = await scalar("SELECT count(*) FROM candidates")
    model = await scalar("SELECT min(embedding_model) FROM candidates")
    await execute("UPDATE candidates SET embedding_model = 'older-model'")
    await execute("UPDATE vacancies SET embedding = NULL WHERE status = 'filled'")

    r = await invoke("reembed", "--batch", "7")
    assert r.exit_code == 0, r.output
    assert f"re-embedded {candidates} candidates and 1 vacancies" in r.output
    assert await scalar("SELECT count(DISTINCT embedding_model) FROM candidates") == 1
    assert await scalar("SELECT min(embedding_model) FROM candidates") == model
    assert await scalar("SELECT count(*) FROM vacancies WHERE embedding IS NULL") == 0

    r = await invoke("reembed")
    assert "re-embedded 0 candidates and 0 vacancies" in r.output
    r = await invoke("reembed", "--all")
    assert f"re-embedded {candidates} candidates" in r.output

    # Texts stored before their language was detected (migration 0015) are detected, without
    # re-embedding them.
    languages = await scalar("SELECT string_agg(text_language, ',' ORDER BY id) FROM candidates")
    assert await scalar("SELECT count(*) FROM candidates WHERE text_language = 'it'") > 0
    await execute("UPDATE candidates SET text_language = NULL")
    r = await invoke("reembed")
    assert "re-embedded 0 candidates and 0 vacancies" in r.output
    assert f"candidates: {candidates} texts' language detected" in r.output
    assert (
        await scalar("SELECT string_agg(text_language, ',' ORDER BY id) FROM candidates")
        == languages
    )
