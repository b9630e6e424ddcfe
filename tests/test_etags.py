"""ETags on reads; If-Match and If-None-Match on writes (412 on mismatch)."""

from __future__ import annotations

import pytest

from tests import payloads


@pytest.fixture
async def admin(make_key):
    return await make_key("alpha", "admin")


async def test_if_match_guards_every_write(client, admin):
    r = await client.put("/v1/candidates/c-1", json=payloads.candidate(), headers=admin)
    tag = r.headers["etag"]
    stale = '"0000000000000000-1"'

    r = await client.put(
        "/v1/candidates/c-1",
        json=payloads.candidate(summary="B"),
        headers={**admin, "If-Match": stale},
    )
    assert r.status_code == 412
    assert r.headers["content-type"] == "application/problem+json"
    r = await client.patch(
        "/v1/candidates/c-1", json={"summary": "B"}, headers={**admin, "If-Match": stale}
    )
    assert r.status_code == 412
    r = await client.delete("/v1/candidates/c-1", headers={**admin, "If-Match": stale})
    assert r.status_code == 412
    assert (await client.get("/v1/candidates/c-1", headers=admin)).headers["etag"] == tag

    r = await client.patch(
        "/v1/candidates/c-1", json={"summary": "B"}, headers={**admin, "If-Match": tag}
    )
    assert r.status_code == 200
    new_tag = r.headers["etag"]
    assert new_tag != tag
    # The first writer wins; a second writer holding the old tag is refused.
    r = await client.patch(
        "/v1/candidates/c-1", json={"summary": "C"}, headers={**admin, "If-Match": tag}
    )
    assert r.status_code == 412
    r = await client.put(
        "/v1/candidates/c-1",
        json=payloads.candidate(),
        headers={**admin, "If-Match": f'"other", {new_tag}'},
    )
    assert r.status_code == 200
    r = await client.delete("/v1/candidates/c-1", headers={**admin, "If-Match": "*"})
    assert r.status_code == 204


async def test_if_match_on_missing_object_fails(client, admin):
    r = await client.put(
        "/v1/candidates/c-9", json=payloads.candidate(), headers={**admin, "If-Match": "*"}
    )
    assert r.status_code == 412
    assert (await client.get("/v1/candidates/c-9", headers=admin)).status_code == 404


async def test_if_none_match_star_creates_only(client, admin):
    headers = {**admin, "If-None-Match": "*"}
    r = await client.put("/v1/employers/e-1", json=payloads.employer(), headers=headers)
    assert r.status_code == 201
    r = await client.put("/v1/employers/e-1", json=payloads.employer(name="X"), headers=headers)
    assert r.status_code == 412
    assert (await client.get("/v1/employers/e-1", headers=admin)).json()["name"] != "X"


async def test_conditional_get(client, admin):
    r = await client.put("/v1/employers/e-1", json=payloads.employer(), headers=admin)
    tag = r.headers["etag"]
    r = await client.get("/v1/employers/e-1", headers={**admin, "If-None-Match": tag})
    assert r.status_code == 304
    assert r.headers["etag"] == tag
    r = await client.get("/v1/employers/e-1", headers={**admin, "If-None-Match": '"x-1"'})
    assert r.status_code == 200


async def test_recreated_object_gets_a_new_tag(client, admin):
    r = await client.put("/v1/employers/e-1", json=payloads.employer(), headers=admin)
    tag = r.headers["etag"]
    await client.delete("/v1/employers/e-1", headers=admin)
    r = await client.put("/v1/employers/e-1", json=payloads.employer(), headers=admin)
    assert r.status_code == 201
    assert r.headers["etag"] != tag


async def test_sensitive_part_honours_if_match(client, admin):
    await client.put("/v1/candidates/c-1", json=payloads.candidate(), headers=admin)
    url = "/v1/candidates/c-1/sensitive"
    r = await client.put(url, json=payloads.sensitive(), headers=admin)
    tag = r.headers["etag"]
    r = await client.put(url, json=payloads.sensitive(), headers={**admin, "If-Match": '"nope"'})
    assert r.status_code == 412
    r = await client.put(url, json=payloads.sensitive(), headers={**admin, "If-Match": tag})
    assert r.status_code == 200
    assert (await client.delete(url, headers={**admin, "If-Match": tag})).status_code == 412
