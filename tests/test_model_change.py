"""The model is a setting: a model of another size takes over every stored vector with
`ponte reembed --all` (a tiny model this test builds, 32 dimensions against 384), and the
service refuses a model the stored vectors do not fit."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from app.config import get_settings
from app.db import migrate
from app.db.engine import DatabaseUrls
from app.db.vector_dimension import VECTOR_COLUMNS, DimensionMismatch
from app.logging import configure_logging
from app.main import create_app
from app.ml.encoder import Encoder
from tests.cli_helpers import Sql, invoker
from tests.conftest import create_database, drop_database, make_settings

TINY_DIM = 32
HNSW_INDEXES = (
    "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes "
    "WHERE indexdef ~ ' USING hnsw '"
)


def build_tiny_model(folder: Path) -> Path:
    """A sentence-transformers folder of a one-layer BERT with random weights and a word-piece
    vocabulary of letters: it embeds any text, in 32 dimensions, with nothing downloaded."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules
    from transformers import BertConfig, BertModel, BertTokenizerFast

    source = folder / "bert"
    source.mkdir(parents=True)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *(f"##{c}" for c in letters)]
    (source / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(source / "vocab.txt")).save_pretrained(source)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=TINY_DIM,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(source)
    transformer = modules.Transformer(str(source), max_seq_length=128)  # as some multilingual
    pooling = modules.Pooling(TINY_DIM, pooling_mode="mean")
    out = folder / "tiny-test-model"
    SentenceTransformer(modules=[transformer, pooling, modules.Normalize()]).save(str(out))
    return out


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


def test_long_texts_are_cut_into_windows_the_model_reads_whole(tiny_path):
    tiny = Encoder(str(tiny_path))
    assert (tiny.dimension, tiny.max_seq_length) == (TINY_DIM, 128)
    text = "Magazziniere con patentino del muletto, turni notturni. " * 40
    spans = tiny.chunk_spans(text)
    assert len(spans) > 1
    tokens = [
        len(tiny._tokenizer(text[a:b], add_special_tokens=True)["input_ids"]) for a, b in spans
    ]
    assert max(tokens) <= tiny.max_seq_length  # nothing of a window is cut off
    assert spans[0][0] == 0
    assert spans[-1][1] == len(text.rstrip())


@pytest.fixture
async def scratch(server_owner, settings, monkeypatch):
    """A database of its own, migrated (the vector columns change size here), with the CLI
    pointed at it and the default model set."""
    name = f"ponte_model_{uuid.uuid4().hex[:8]}"
    owner = await create_database(server_owner, name)
    engine = create_async_engine(owner)
    await asyncio.to_thread(migrate.upgrade, owner, settings)
    monkeypatch.setenv("DATABASE_URL", owner.render_as_string(hide_password=False))
    monkeypatch.setenv("PONTE_MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("PONTE_DATA_DIR", str(settings.data_dir))  # the run's label key
    monkeypatch.setenv("PONTE_LOG_JSON", "false")
    monkeypatch.delenv("PONTE_MODEL_PATH", raising=False)
    try:
        yield owner, invoker(CliRunner()), Sql(engine)
    finally:
        get_settings.cache_clear()
        await engine.dispose()
        await drop_database(server_owner, name)


async def test_a_new_database_takes_the_models_size(scratch, tiny_path, monkeypatch, tmp_path):
    _, invoke, sql = scratch
    scalar = sql.scalar
    (tmp_path / "queries.jsonl").write_text('{"id": "q1", "text": "operate forklift"}\n')
    (tmp_path / "qrels.json").write_text('{"q1": []}')
    monkeypatch.setenv("PONTE_MODEL_PATH", str(tiny_path))
    fitted = await invoke("reembed")  # nothing stored: a plain reembed resizes, at no loss
    assert fitted.exit_code == 0, fitted.output
    assert "resized from 384 to 32 dimensions (0 rows' vectors dropped" in fitted.output
    demo = await invoke("demo", "--no-serve")
    assert demo.exit_code == 0, demo.output
    assert await scalar("SELECT max(vector_dims(embedding)) FROM candidates") == TINY_DIM
    monkeypatch.delenv("PONTE_MODEL_PATH")
    refused = await invoke("demo", "--no-serve")  # vectors are stored: they are not dropped
    assert refused.exit_code == 1
    assert "the stored ones have 32: `ponte reembed --all`" in refused.output
    # every command that embeds or ranks says so before it starts
    for command in (["taxonomy", "link"], ["rerank"], ["eval", "--set", str(tmp_path)]):
        refused = await invoke(*command)
        assert refused.exit_code == 1, command
        assert "the stored ones have 32: `ponte reembed --all`" in refused.output, command


async def test_a_model_of_another_size_takes_over_every_vector(
    scratch, settings, encoder, tiny_path, monkeypatch, caplog
):
    owner, invoke, sql = scratch
    scalar = sql.scalar
    demo = await invoke("demo", "--no-serve")  # the default model: 384 dimensions
    assert demo.exit_code == 0, demo.output
    key = re.search(r"Admin API key \(shown once\): (\S+)", demo.output).group(1)
    indexes = await scalar(HNSW_INDEXES)
    rows = (
        "SELECT md5(string_agg(concat_ws('|', id, external_id, version, search_text, skills), "
        "',' ORDER BY id)) FROM candidates"
    )
    kept = await scalar(rows)  # what is not a vector stays as it was
    labels = await scalar("SELECT count(*) FROM esco_label_vectors")
    assert labels > 0
    assert await scalar("SELECT max(vector_dims(embedding)) FROM candidates") == 384

    monkeypatch.setenv("PONTE_MODEL_PATH", str(tiny_path))
    refused = await invoke("reembed")  # a plain reembed does not drop every vector
    assert refused.exit_code == 1
    assert "of 32 dimensions, the stored ones have 384" in refused.output
    assert await scalar("SELECT count(*) FROM candidates WHERE embedding IS NULL") == 0

    urls = DatabaseUrls(
        owner=owner, service=owner.set(username=settings.db_app_role), embedded=True
    )
    app_settings = make_settings(settings.data_dir)
    # a transaction still reading the tables: the resize gives up, saying so, and changes nothing
    blocker = create_async_engine(owner)
    async with blocker.connect() as held:
        await held.execute(text("BEGIN"))
        await held.execute(text("SELECT count(*) FROM candidate_chunks"))
        blocked = await invoke("reembed", "--all")
        await held.execute(text("ROLLBACK"))
    await blocker.dispose()
    assert blocked.exit_code == 1
    assert "the vector tables are in use" in blocked.output
    assert await scalar("SELECT max(vector_dims(embedding)) FROM candidates") == 384
    running = create_app(app_settings, encoder=encoder, database=urls)  # the old model's
    async with running.router.lifespan_context(running):
        transport = httpx.ASGITransport(app=running)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/readyz")).status_code == 200
            moved = await invoke("reembed", "--all")
            assert moved.exit_code == 0, moved.output
            # a service left running says what is wrong rather than failing requests
            r = await client.get("/readyz")
            assert r.status_code == 503
            assert "the stored ones 32: run `ponte reembed --all`" in r.json()["checks"]["model"]
    assert "resized from 384 to 32 dimensions" in moved.output
    for table, column in VECTOR_COLUMNS:
        assert (
            await scalar(
                "SELECT atttypmod FROM pg_attribute "
                f"WHERE attrelid = '{table}'::regclass AND attname = '{column}'"
            )
            == TINY_DIM
        ), (table, column)
    assert await scalar("SELECT count(*) FROM candidates WHERE embedding IS NULL") == 0
    assert await scalar("SELECT count(*) FROM vacancies WHERE title_embedding IS NULL") == 0
    assert await scalar("SELECT max(vector_dims(embedding)) FROM candidate_chunks") == 32
    assert await scalar("SELECT min(embedding_model) FROM candidates") == "tiny-test-model"
    # the taxonomy's labels are embedded for the new model, linked rows relinked with it
    assert (
        await scalar("SELECT count(*) FROM esco_label_vectors WHERE model_id = 'tiny-test-model'")
        == labels
    )
    assert (
        await scalar("SELECT count(*) FROM candidates WHERE esco->>'model' <> 'tiny-test-model'")
        == 0
    )
    assert await scalar(HNSW_INDEXES) == indexes  # built again, over the new size
    assert await scalar(rows) == kept
    again = await invoke("reembed")  # resumable: nothing is left
    assert "re-embedded 0 candidates and 0 vacancies" in again.output

    tiny = Encoder(str(tiny_path))
    served = create_app(app_settings, encoder=tiny, database=urls)
    # a row whose vector another model of the same size made, say
    await sql.execute(
        "UPDATE vacancies SET embedding_model = 'other' WHERE external_id = 'vac-aiuto-cuoco'"
    )
    # the CLI's runs set up logging anew, without pytest's capture: give it back
    configure_logging("INFO", json=True)
    logging.getLogger().addHandler(caplog.handler)
    caplog.clear()
    async with served.router.lifespan_context(served):
        warned = [
            r.getMessage() for r in caplog.records if "vectors_from_another_model" in r.getMessage()
        ]
        assert warned
        assert "'vacancies': 1" in warned[0]
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.post(
                "/v1/vacancies/vac-aiuto-cuoco/shortlists",
                json={"limit": 5},
                headers={"Authorization": f"Bearer {key}"},
            )
    assert r.status_code == 201, r.text
    assert r.json()["items"]
    # the old model no longer fits the stored vectors: the service does not start
    refusing = create_app(app_settings, encoder=encoder, database=urls)
    with pytest.raises(DimensionMismatch, match="`ponte reembed --all`"):
        async with refusing.router.lifespan_context(refusing):
            pass
