"""``ponte taxonomy import`` (issue 15): the ESCO download's layout into the shared taxonomy
tables — idempotent, resumable, read-only for the service role, labels embedded once.

The files are the demo's subset (app/demo/esco/, bench/make_esco_subset.py): 23 occupations,
their skills and ISCO groups, English and Italian. "This service uses the ESCO classification
of the European Commission." ESCO © European Union; reuse authorised under Commission Decision
2011/833/EU.
"""

from __future__ import annotations

import asyncio
import csv
import json
from importlib import resources
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.cli import cli
from app.errors import BadRequest, Conflict
from app.repositories.taxonomy import TaxonomyRepository
from app.services import taxonomy_import, vector_jobs
from app.services.label_key import label_hash

SUBSET = Path(str(resources.files("app.demo").joinpath("esco")))
KITCHEN_PORTER = "http://data.europa.eu/esco/occupation/f756fdab-7726-4c48-bfcc-94ff8810fc08"


@pytest.fixture
def owner_sessions(owner_engine, clean_db):
    return async_sessionmaker(owner_engine, expire_on_commit=False)


async def scalar(owner_engine, sql, **params):
    async with owner_engine.connect() as conn:
        return await conn.scalar(text(sql), params)


async def test_an_import_holds_every_file_and_records_itself(owner_sessions, owner_engine, encoder):
    files = taxonomy_import.esco_files(SUBSET)
    report = await taxonomy_import.import_esco(owner_sessions, files, "1.2.0", encoder)
    assert set(report.files) == {f.name for f in files}
    assert report.counts["concepts"] == {"occupation": 23, "skill": 508, "isco_group": 56}
    assert set(report.counts["labels"]) == {"en", "it"}
    assert report.counts["relations"]["essential"] > 400
    assert report.counts["relations"]["broader"] == 74
    # the Italian file named the kitchen porter too, and kept the English file's attributes
    labels = await scalar(
        owner_engine,
        "SELECT string_agg(lang || ':' || label, '|' ORDER BY lang) FROM esco_labels "
        "WHERE uri = :u AND kind = 'preferred'",
        u=KITCHEN_PORTER,
    )
    assert labels.startswith("en:kitchen porter|it:")
    assert (
        await scalar(
            owner_engine, "SELECT isco_group FROM esco_concepts WHERE uri = :u", u=KITCHEN_PORTER
        )
        == "9412"
    )
    run = await scalar(
        owner_engine,
        "SELECT json_build_object('version', version, 'state', state, 'languages', languages, "
        "'files', files, 'finished', finished_at IS NOT NULL, 'model', model_id) "
        "FROM taxonomy_imports",
    )
    assert (run["version"], run["state"], run["languages"], run["finished"]) == (
        "1.2.0",
        "done",
        ["en", "it"],
        True,
    )
    assert run["model"] == encoder.model_id
    assert run["files"]["skills_en.csv"]["rows"] == 508
    assert len(run["files"]["skills_en.csv"]["sha256"]) == 64
    # every label that names a concept has its vector in the label cache, embedded once
    assert report.labels > 900
    assert report.labels_embedded > 0
    async with owner_engine.connect() as conn:
        named = set(
            await conn.scalars(text("SELECT label FROM esco_labels WHERE kind <> 'hidden'"))
        )
        cached = {
            bytes(h)
            for h in await conn.scalars(
                text("SELECT label_hash FROM skill_embeddings WHERE model_id = :m"),
                {"m": encoder.model_id},
            )
        }
    assert {label_hash(label) for label in named} <= cached

    # beside its concept, every skill and occupation label's vector, for nearest-label search
    assert await scalar(
        owner_engine,
        "SELECT count(*) FROM esco_label_vectors WHERE model_id = :m",
        m=encoder.model_id,
    ) == await scalar(
        owner_engine,
        "SELECT count(*) FROM esco_labels l JOIN esco_concepts c ON c.uri = l.uri "
        "WHERE l.kind <> 'hidden' AND c.kind <> 'isco_group'",
    )

    again = await taxonomy_import.import_esco(owner_sessions, files, "1.2.0", encoder)
    assert all(entry == {"skipped": True} for entry in again.files.values())
    assert again.counts == report.counts
    assert again.labels_embedded == 0
    # nothing new: the finished import stands (links made from it stay current)
    assert (again.unchanged, again.import_id) == (True, report.import_id)
    assert await scalar(owner_engine, "SELECT count(*) FROM taxonomy_imports") == 1
    # the database's cache lost them (this process still remembers them): stored again
    async with owner_engine.begin() as conn:
        await conn.execute(text("DELETE FROM skill_embeddings"))
    third = await taxonomy_import.import_esco(owner_sessions, files, "1.2.0", encoder)
    assert third.labels_embedded > 900


async def test_an_interrupted_import_resumes_where_it_stopped(owner_sessions, owner_engine):
    files = taxonomy_import.esco_files(SUBSET)
    seen: list[str] = []

    def stop_in_skills(stage, rows, total):
        seen.append(stage)
        if stage == "skills_en.csv":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await taxonomy_import.import_esco(owner_sessions, files, "1.2.0", None, stop_in_skills)
    assert await scalar(owner_engine, "SELECT state FROM taxonomy_imports") == "running"
    report = await taxonomy_import.import_esco(owner_sessions, files, "1.2.0", None)
    # the same import finished it: the files done before the stop were not read again
    assert await scalar(owner_engine, "SELECT count(*) FROM taxonomy_imports") == 1
    skipped = {name for name, entry in report.files.items() if entry.get("skipped")}
    assert skipped == {
        "ISCOGroups_en.csv",
        "ISCOGroups_it.csv",
        "occupations_en.csv",
        "occupations_it.csv",
    }
    assert report.counts["concepts"]["skill"] == 508
    assert await scalar(owner_engine, "SELECT state FROM taxonomy_imports") == "done"


def newer_version(folder: Path) -> None:
    """The subset with the kitchen porter's "kitchen steward" and optional skills taken out."""
    for source in SUBSET.glob("*.csv"):
        with source.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns, rows = list(reader.fieldnames or []), list(reader)
        if source.name == "occupations_en.csv":
            for row in rows:
                if row["conceptUri"] == KITCHEN_PORTER:
                    assert "kitchen steward" in row["altLabels"]
                    row["altLabels"] = row["altLabels"].replace("kitchen steward\n", "")
        if source.name == "occupationSkillRelations_en.csv":
            rows = [
                r
                for r in rows
                if not (r["occupationUri"] == KITCHEN_PORTER and r["relationType"] == "optional")
            ]
        with (folder / source.name).open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)


async def test_a_new_version_replaces_what_the_files_no_longer_say(
    owner_sessions, owner_engine, tmp_path
):
    files = taxonomy_import.esco_files(SUBSET)
    await taxonomy_import.import_esco(owner_sessions, files, "1.2.0", None)
    # version 1.2.1: the kitchen porter lost an alternative label and all its optional skills
    newer_version(tmp_path)
    before = await scalar(
        owner_engine,
        "SELECT count(*) FROM esco_relations WHERE source_uri = :u AND relation = 'optional'",
        u=KITCHEN_PORTER,
    )
    assert before > 0
    report = await taxonomy_import.import_esco(
        owner_sessions, taxonomy_import.esco_files(tmp_path), "1.2.1", None
    )
    assert not any(entry.get("skipped") for entry in report.files.values())
    assert (
        await scalar(
            owner_engine,
            "SELECT count(*) FROM esco_relations WHERE source_uri = :u AND relation = 'optional'",
            u=KITCHEN_PORTER,
        )
        == 0
    )
    assert not await scalar(
        owner_engine,
        "SELECT count(*) FROM esco_labels WHERE uri = :u AND label = 'kitchen steward'",
        u=KITCHEN_PORTER,
    )


async def test_an_import_of_chosen_languages_leaves_the_others_out(
    owner_sessions, owner_engine, encoder
):
    await taxonomy_import.import_esco(
        owner_sessions, taxonomy_import.esco_files(SUBSET), "1.2.0", encoder
    )
    italian = "SELECT count(*) FROM {} WHERE lang = 'it'"
    assert await scalar(owner_engine, italian.format("esco_labels")) > 0
    assert await scalar(owner_engine, italian.format("esco_label_vectors")) > 0
    files = taxonomy_import.esco_files(SUBSET, ["en"])
    assert {f.name for f in files} == {
        "ISCOGroups_en.csv",
        "occupations_en.csv",
        "skills_en.csv",
        "occupationSkillRelations_en.csv",
        "broaderRelationsOccPillar_en.csv",
    }
    report = await taxonomy_import.import_esco(
        owner_sessions, files, "1.2.0", encoder, languages=["en"]
    )
    # every English file was done before, but the taxonomy changed: a new import stands
    assert all(entry.get("skipped") for entry in report.files.values())
    assert report.dropped > 0
    assert not report.unchanged
    assert set(report.counts["labels"]) == {"en"}
    for table in ("esco_labels", "esco_label_vectors", "esco_descriptions"):
        assert await scalar(owner_engine, italian.format(table)) == 0
    assert await scalar(owner_engine, "SELECT count(*) FROM esco_label_vectors") > 0
    languages = await scalar(
        owner_engine, "SELECT languages FROM taxonomy_imports WHERE id = :i", i=report.import_id
    )
    assert languages == ["en"]
    with pytest.raises(BadRequest, match=r"no ESCO concept files in nl .*languages there: en, it"):
        taxonomy_import.esco_files(SUBSET, ["en", "nl"])
    # the subset's skills come in English only: Italian alone would leave them without labels
    with pytest.raises(BadRequest, match=r"no skills file in them \(skills in en only\)"):
        taxonomy_import.esco_files(SUBSET, ["it"])
    # a language removed comes back when chosen again, though its files were done before
    again = await taxonomy_import.import_esco(
        owner_sessions, taxonomy_import.esco_files(SUBSET), "1.2.0", encoder
    )
    assert again.files["occupations_it.csv"].get("rows", 0) > 0
    assert again.files["occupations_en.csv"] == {"skipped": True}
    assert not again.unchanged
    assert set(again.counts["labels"]) == {"en", "it"}
    assert await scalar(owner_engine, italian.format("esco_label_vectors")) > 0
    assert await scalar(
        owner_engine, "SELECT languages FROM taxonomy_imports WHERE id = :i", i=again.import_id
    ) == ["en", "it"]


async def test_one_import_runs_at_a_time(owner_sessions, owner_engine):
    files = taxonomy_import.esco_files(SUBSET)
    async with owner_sessions() as other:  # another import holds the lock while this one runs
        assert await TaxonomyRepository(other).lock_imports()
        with pytest.raises(Conflict, match="another taxonomy import is running"):
            await taxonomy_import.import_esco(owner_sessions, files, "1.2.0", None)
        assert await scalar(owner_engine, "SELECT count(*) FROM taxonomy_imports") == 0
    report = await taxonomy_import.import_esco(owner_sessions, files, "1.2.0", None)
    assert report.counts["concepts"]["occupation"] == 23


async def test_the_import_lock_outlives_a_servers_idle_in_transaction_timeout(owner_sessions):
    # the guard's transaction is idle while the import works in other sessions
    async with owner_sessions() as guard:
        await guard.execute(text("SET idle_in_transaction_session_timeout = '200ms'"))
        await guard.commit()
        try:
            assert await TaxonomyRepository(guard).lock_imports()
            await asyncio.sleep(0.6)
            async with owner_sessions() as other:
                assert not await TaxonomyRepository(other).lock_imports()
            assert await guard.scalar(text("SELECT 1")) == 1  # not ended by the server
            await guard.commit()
        finally:
            await guard.execute(text("RESET idle_in_transaction_session_timeout"))
            await guard.commit()


async def test_embedding_labels_for_a_new_model_waits_for_a_running_import(
    owner_sessions, owner_engine, encoder
):
    await taxonomy_import.import_esco(
        owner_sessions, taxonomy_import.esco_files(SUBSET), "1.2.0", None
    )
    told: list[str] = []
    async with owner_sessions() as other:  # an import holds the lock
        assert await TaxonomyRepository(other).lock_imports()
        job = asyncio.create_task(
            vector_jobs.embed_taxonomy_labels(owner_sessions, encoder, lambda: told.append("w"))
        )
        await asyncio.sleep(0.5)
        assert told == ["w"]
        assert not job.done()
        assert await scalar(owner_engine, "SELECT count(*) FROM esco_label_vectors") == 0
    assert await asyncio.wait_for(job, 120) > 0  # the import ended: it went on
    assert await vector_jobs.embed_taxonomy_labels(owner_sessions, encoder) == 0


async def test_the_service_role_may_read_the_taxonomy_but_not_write_it(owner_sessions, database):
    await taxonomy_import.import_esco(
        owner_sessions, taxonomy_import.esco_files(SUBSET), "1.2.0", None
    )
    dsn = database.service.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM esco_concepts") == 587
        for sql in (
            "INSERT INTO esco_concepts (uri, kind) VALUES ('x', 'skill')",
            "UPDATE esco_labels SET label = 'x'",
            "DELETE FROM esco_relations",
            "DELETE FROM taxonomy_imports",
        ):
            with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()


async def test_the_command_imports_reports_and_refuses_a_folder_without_esco(
    cli_env, tmp_path, owner_engine
):
    async with owner_engine.begin() as conn:
        await conn.execute(text("INSERT INTO tenants (name) VALUES ('alpha'), ('beta')"))
    empty = await asyncio.to_thread(
        cli_env.invoke, cli, ["taxonomy", "import", str(tmp_path), "--no-embed"]
    )
    assert empty.exit_code == 1
    assert "no ESCO CSV files" in empty.output
    for wrong in ("en,it-IT", " , "):
        refused = await asyncio.to_thread(
            cli_env.invoke, cli, ["taxonomy", "import", str(SUBSET), "--languages", wrong]
        )
        assert refused.exit_code == 1
        assert "--languages takes ESCO's language codes" in refused.output
    made = await asyncio.to_thread(
        cli_env.invoke, cli, ["taxonomy", "import", str(SUBSET), "--no-embed"]
    )
    assert made.exit_code == 0, made.output
    report = json.loads(made.stdout.strip().splitlines()[-1])
    assert report["counts"]["concepts"]["occupation"] == 23
    # every tenant's rankings read the taxonomy: the import is an entry of each one's trail
    async with owner_engine.connect() as conn:
        recorded = (
            await conn.execute(
                text(
                    "SELECT t.name, e.detail FROM audit_entries e JOIN tenants t "
                    "ON t.id = e.tenant_id WHERE e.action = 'taxonomy.import' ORDER BY 1"
                )
            )
        ).all()
    assert [name for name, _ in recorded] == ["alpha", "beta"]
    assert recorded[0].detail["version"] == "1.2.0"
    status = await asyncio.to_thread(cli_env.invoke, cli, ["taxonomy", "status"])
    shown = json.loads(status.stdout.strip().splitlines()[-1])
    assert (shown["imported"], shown["version"], shown["languages"]) == (
        True,
        "1.2.0",
        ["en", "it"],
    )
    english = await asyncio.to_thread(
        cli_env.invoke,
        cli,
        ["taxonomy", "import", str(SUBSET), "--no-embed", "--languages", "EN"],
    )
    assert english.exit_code == 0, english.output
    assert json.loads(english.stdout.strip().splitlines()[-1])["dropped"] > 0
    status = await asyncio.to_thread(cli_env.invoke, cli, ["taxonomy", "status"])
    assert json.loads(status.stdout.strip().splitlines()[-1])["languages"] == ["en"]
