"""Telling a programme's own system that a vacancy's shortlist changed (issue 14).

When a batch run stores a vacancy's snapshot and its top 10 differs from the vacancy's batch
snapshot before, and the tenant has a ``webhook_url``, a delivery is queued in the same
transaction. Workers send due deliveries (app/services/worker.py): a POST of the change set —
external ids, ranks and moves; no names, no texts — signed with the tenant's secret:

    X-Ponte-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares in constant
time, and refuses an old ``t``. Delivery is at least once (a worker that dies after the POST and
before its commit sends it again): receivers dedupe on ``delivery_id``. A 2xx answer delivers;
anything else (or no answer within 10 s) is retried after ``base × 2^(attempt − 1)`` seconds,
up to ``MAX_ATTEMPTS``, then failed. Each attempt's status and error are on the delivery, shown
in ``GET /v1/jobs/{id}`` (counts per state, and the first 200).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import get_settings
from app.db.job_tables import WebhookDelivery
from app.db.tables import Tenant
from app.repositories.shortlists import ShortlistRepository
from app.repositories.webhooks import WebhookRepository
from app.services.shortlist_changes import compare

TOP = 10
MAX_ATTEMPTS = 6
DEFAULT_RETRY_BASE_S = 30.0
TIMEOUT_S = 10.0
SIGNATURE_HEADER = "X-Ponte-Signature"


def private_allowed() -> bool:
    return get_settings().webhook_allow_private


def _local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


async def refusal(url: str) -> str | None:
    """Why ``url`` may not be posted to, or None: a host that resolves to a private, loopback
    or link-local address is refused unless the deployment allows it
    (``PONTE_WEBHOOK_ALLOW_PRIVATE``). Checked when the URL is set and before every attempt
    (the name may point elsewhere since)."""
    if private_allowed():
        return None
    host = httpx.URL(url).host
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        return f"the webhook's host {host!r} cannot be resolved"
    for *_, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0])
        if _local(address):
            return f"the webhook's host {host!r} is a private or local address ({address})"
    return None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does (tests use it): recompute and compare in constant time."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        return False
    return hmac.compare_digest(sign(secret, int(parts["t"]), body), header)


async def ranked_ids(
    session: AsyncSession, tenant_id: uuid.UUID, shortlist_id: uuid.UUID
) -> list[tuple[int, str | None]]:
    items = await ShortlistRepository(session).items(tenant_id, shortlist_id)
    return [(item.rank, external_id) for item, external_id, _ in items]


async def note_snapshot(
    session: AsyncSession,
    tenant: Tenant,
    vacancy_id: uuid.UUID,
    snapshot: dict[str, Any],
    job_id: uuid.UUID,
) -> bool:
    """After a batch snapshot of the vacancy (as ``ShortlistService.create_shortlist`` answered
    it): queues a delivery if the tenant has a webhook and the top changed since the vacancy's
    batch snapshot before (a scout's request, with its own length and gates, is not what a
    batch compares with). True when one was queued."""
    if not (tenant.settings or {}).get("webhook_url"):
        return False
    repo = WebhookRepository(session)
    older = await repo.previous_batch_snapshot(tenant.id, vacancy_id, snapshot["id"], job_id)
    before = await ranked_ids(session, tenant.id, older) if older is not None else []
    after = [(item["rank"], item["candidate_external_id"]) for item in snapshot["items"]]
    if not compare(before, after, TOP)["changed"]:
        return False
    await repo.add(tenant.id, job_id, snapshot["id"], older)
    return True


async def payload(session: AsyncSession, delivery: WebhookDelivery) -> dict[str, Any] | None:
    """The change set as sent; None when the snapshot's vacancy was deleted meanwhile."""
    repo = ShortlistRepository(session)
    newer = await repo.get(delivery.tenant_id, delivery.shortlist_id)
    if newer is None:
        return None
    vacancy = await repo.vacancy_external_id(delivery.tenant_id, newer.vacancy_id)
    if vacancy is None:
        return None
    before = (
        await ranked_ids(session, delivery.tenant_id, delivery.previous_id)
        if delivery.previous_id is not None
        else []
    )
    after = await ranked_ids(session, delivery.tenant_id, delivery.shortlist_id)
    changes = compare(before, after, TOP)
    return {
        "event": "shortlist.changed",
        "delivery_id": delivery.id,
        "job_id": str(delivery.job_id),
        "vacancy_external_id": vacancy,
        "shortlist_id": str(delivery.shortlist_id),
        "previous_shortlist_id": str(delivery.previous_id) if delivery.previous_id else None,
        "created_at": newer.created_at.isoformat(),
        "top": TOP,
        "entered": changes["entered"],
        "left": changes["left"],
        "moved": changes["moved"],
    }


async def deliver_one(
    sessions: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    retry_base_s: float = DEFAULT_RETRY_BASE_S,
) -> bool:
    """Sends the next due delivery nobody else holds; False when none is due."""
    async with sessions() as session, session.begin():
        delivery = await WebhookRepository(session).claim_due()
        if delivery is None:
            return False
        tenant = await session.get(Tenant, delivery.tenant_id)
        settings = (tenant.settings if tenant is not None else None) or {}
        url, secret = settings.get("webhook_url"), settings.get("webhook_secret")
        body = await payload(session, delivery)
        delivery.attempts += 1
        if body is None or not url or not secret:
            delivery.state = "failed"
            delivery.last_error = (
                "the vacancy was deleted" if body is None else "the tenant's webhook is off"
            )
            return True
        refused = await refusal(url)
        if refused is not None:
            delivery.last_status, delivery.last_error = None, refused
            _retry_or_fail(delivery, retry_base_s)
            return True
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, int(time.time()), raw),
            "User-Agent": "Ponte-Webhook/1",
        }
        try:
            # one deadline for the whole exchange (httpx's timeout is per phase)
            answer = await asyncio.wait_for(
                client.post(url, content=raw, headers=headers, timeout=TIMEOUT_S), TIMEOUT_S
            )
            delivery.last_status = answer.status_code
            delivery.last_error = None if answer.is_success else f"HTTP {answer.status_code}"
            ok = answer.is_success
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            delivery.last_status = None
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:500]
            ok = False
        if ok:
            delivery.state = "delivered"
            delivery.delivered_at = func.now()
        else:
            _retry_or_fail(delivery, retry_base_s)
    return True


def _retry_or_fail(delivery: WebhookDelivery, retry_base_s: float) -> None:
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.state = "failed"
    else:
        wait = dt.timedelta(seconds=retry_base_s * 2 ** (delivery.attempts - 1))
        delivery.next_attempt_at = func.now() + wait


SHOWN_DELIVERIES = 200


async def deliveries_view(
    session: AsyncSession, tenant_id: uuid.UUID, job_id: uuid.UUID
) -> dict[str, Any]:
    """A job's deliveries as ``GET /v1/jobs/{id}`` shows them: counts per state, and the first
    ``SHOWN_DELIVERIES``."""
    repo = WebhookRepository(session)
    rows = await repo.of_job(tenant_id, job_id, SHOWN_DELIVERIES)
    return {
        "delivery_counts": await repo.counts(tenant_id, job_id),
        "deliveries": [
            {
                "id": row.id,
                "shortlist_id": row.shortlist_id,
                "state": row.state,
                "attempts": row.attempts,
                "last_status": row.last_status,
                "last_error": row.last_error,
                "next_attempt_at": row.next_attempt_at if row.state == "queued" else None,
                "delivered_at": row.delivered_at,
            }
            for row in rows
        ],
    }
