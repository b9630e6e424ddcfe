"""A key of tenant A never sees or changes tenant B's objects: they look missing (404)."""

from __future__ import annotations

import pytest

from tests import payloads

RESOURCES = [
    ("employers", "e-shared", payloads.employer),
    ("vacancies", "v-shared", lambda: payloads.vacancy("e-shared")),
    ("candidates", "c-shared", payloads.candidate),
]


@pytest.fixture
async def keys(make_key):
    return await make_key("alpha", "admin"), await make_key("beta", "admin")


async def _seed_alpha(client, alpha):
    for plural, ext, body in RESOURCES:
        r = await client.put(f"/v1/{plural}/{ext}", json=body(), headers=alpha)
        assert r.status_code == 201, r.text
    r = await client.put(
        "/v1/candidates/c-shared/sensitive", json=payloads.sensitive(), headers=alpha
    )
    assert r.status_code == 201


@pytest.mark.parametrize(("plural", "ext", "body"), RESOURCES)
async def test_other_tenant_gets_404_and_empty_lists(client, keys, plural, ext, body):
    alpha, beta = keys
    await _seed_alpha(client, alpha)
    url = f"/v1/{plural}/{ext}"
    before = (await client.get(url, headers=alpha)).json()

    assert (await client.get(url, headers=beta)).status_code == 404
    assert (await client.patch(url, json={"status": "closed"}, headers=beta)).status_code == 404
    assert (await client.delete(url, headers=beta)).status_code == 404
    assert (await client.put(url, json=body(), headers={**beta, "If-Match": "*"})).status_code in (
        412,
        422,
    )
    r = await client.get(f"/v1/{plural}", headers=beta)
    assert r.status_code == 200
    assert r.json()["items"] == []

    assert (await client.get(url, headers=alpha)).json() == before


async def test_same_external_id_in_two_tenants_are_two_objects(client, keys):
    alpha, beta = keys
    await _seed_alpha(client, alpha)
    # Beta cannot point a vacancy at alpha's employer: that employer does not exist for beta.
    r = await client.put("/v1/vacancies/v-b", json=payloads.vacancy("e-shared"), headers=beta)
    assert r.status_code == 422
    r = await client.put(
        "/v1/candidates/c-shared", json=payloads.candidate(summary="Beta's own"), headers=beta
    )
    assert r.status_code == 201
    assert (await client.get("/v1/candidates/c-shared", headers=alpha)).json()["summary"] != (
        "Beta's own"
    )
    assert (await client.get("/v1/candidates/c-shared/sensitive", headers=beta)).status_code == 404
    r = await client.get("/v1/candidates/c-shared/sensitive", headers=alpha)
    assert r.status_code == 200


async def test_keys_of_other_tenants_are_invisible(client, keys):
    alpha, beta = keys
    alpha_keys = (await client.get("/v1/api-keys", headers=alpha)).json()
    beta_keys = (await client.get("/v1/api-keys", headers=beta)).json()
    assert {k["id"] for k in alpha_keys}.isdisjoint({k["id"] for k in beta_keys})
    r = await client.delete(f"/v1/api-keys/{alpha_keys[0]['id']}", headers=beta)
    assert r.status_code == 404
    assert (await client.get("/v1/me", headers=alpha)).status_code == 200
