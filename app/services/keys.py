"""Tenants and API keys: creation, authentication, listing, revocation, bootstrap.

A generated key reads ``ponte_<key id>_<secret>``. Only its SHA-256 is stored and keys are found
by that hash, so an operator-chosen bootstrap key of any shape works the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import ApiKey, Tenant
from app.errors import BadRequest, Conflict, NotFound, Unauthorized
from app.repositories.tenants import ApiKeyRepository, TenantRepository
from app.schemas import TENANT_NAME_PATTERN, Principal, Role
from app.services import audit
from app.services.lru import Lru

KEY_PREFIX = "ponte_"
# Writing last_used_at on every request would turn reads into writes; once a minute is enough.
TOUCH_INTERVAL = dt.timedelta(minutes=1)


def hash_key(key: str) -> bytes:
    """Returns the SHA-256 digest under which a key is stored."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def new_key() -> tuple[str, str]:
    """Returns a fresh (key id, full key)."""
    key_id = secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32).replace('_', 'x')}"


def _key_id_of(key: str) -> str | None:
    parts = key.split("_")
    if len(parts) == 3 and parts[0] + "_" == KEY_PREFIX and parts[1] and parts[2]:
        return parts[1]
    return None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def create_tenant(session: AsyncSession, name: str) -> Tenant:
    """Creates a tenant; names are lowercase slugs and unique."""
    if not TENANT_NAME_PATTERN.match(name):
        raise BadRequest("tenant names are 1–63 characters: a-z, 0-9, '-' and '_'")
    repo = TenantRepository(session)
    if await repo.get_by_name(name) is not None:
        raise Conflict(f"tenant '{name}' exists")
    return await repo.create(name)


async def get_tenant(session: AsyncSession, name: str) -> Tenant:
    """Returns the tenant called ``name`` or raises NotFound."""
    tenant = await TenantRepository(session).get_by_name(name)
    if tenant is None:
        raise NotFound(f"no tenant '{name}'")
    return tenant


async def list_tenants(session: AsyncSession) -> Sequence[Tenant]:
    """Returns all tenants (operator CLI only)."""
    return await TenantRepository(session).list()


async def create_key(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    role: Role,
    *,
    label: str | None = None,
    expires_at: dt.datetime | None = None,
    key: str | None = None,
    actor: Principal | None = None,
) -> tuple[ApiKey, str]:
    """Creates a key (a given ``key`` is stored as is); returns the record and the secret key.
    ``actor``: who creates it (None: an operator's ``ponte`` command), for the audit trail."""
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=dt.UTC)
        if expires_at <= _now():
            raise BadRequest("expires_at lies in the past")
    if key is None:
        key_id, key = new_key()
    else:
        key_id = _key_id_of(key) or f"boot{secrets.token_hex(4)}"
    repo = ApiKeyRepository(session)
    if await repo.find_by_hash(hash_key(key)) is not None:
        raise Conflict("that key exists already")
    record = await repo.create(
        tenant_id=tenant_id,
        key_id=key_id,
        role=role.value,
        key_hash=hash_key(key),
        label=label,
        expires_at=expires_at,
    )
    act = audit.Act(
        "key.create",
        [audit.ref("key", key_id)],
        detail={"role": role.value, "expires_at": expires_at.isoformat() if expires_at else None},
    )
    await audit.record(session, actor or Principal.operator(tenant_id, "", "cli"), act)
    return record, key


async def authenticate(session: AsyncSession, presented: str) -> Principal:
    """Returns the principal a key stands for; Unauthorized if unknown, revoked or expired."""
    digest = hash_key(presented)
    found = await ApiKeyRepository(session).find_by_hash(digest)
    if found is None or not hmac.compare_digest(found[0].key_hash, digest):
        raise Unauthorized("unknown API key")
    key, tenant = found
    now = _now()
    if key.revoked_at is not None:
        raise KeyRefused("this API key was revoked", key, tenant, "revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise KeyRefused("this API key has expired", key, tenant, "expired")
    if key.last_used_at is None or now - key.last_used_at > TOUCH_INTERVAL:
        await ApiKeyRepository(session).touch(key.id, now)
    return Principal(
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        role=Role(key.role),
        key_id=key.id,
        key_label=key.label,
    )


async def list_keys(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[ApiKey]:
    """Returns the tenant's keys (never their secrets, which are not stored)."""
    return await ApiKeyRepository(session).list_for_tenant(tenant_id)


async def revoke_key(
    session: AsyncSession, key_id: str, tenant_id: uuid.UUID | None, actor: Principal | None = None
) -> ApiKey:
    """Revokes a key; ``tenant_id`` None (operator CLI) may revoke any tenant's key.
    ``actor``: who revokes it (None: an operator's ``ponte`` command)."""
    repo = ApiKeyRepository(session)
    key = await repo.get(key_id, tenant_id)
    if key is None:
        raise NotFound(f"no API key '{key_id}'")
    await repo.revoke(key, _now())
    act = audit.Act("key.revoke", [audit.ref("key", key.id)], detail={"role": key.role})
    await audit.record(session, actor or Principal.operator(key.tenant_id, "", "cli"), act)
    return key


class KeyRefused(Unauthorized):
    """A known key that may no longer be used (revoked or expired): refused, and recorded."""

    def __init__(self, detail: str, key: ApiKey, tenant: Tenant, why: str) -> None:
        super().__init__(detail)
        self.principal = Principal(
            tenant_id=tenant.id,
            tenant_name=tenant.name,
            role=Role(key.role),
            key_id=key.id,
            key_label=key.label,
        )
        self.why = why


# A leaked revoked key must not flood the trail: per key and process, one entry a minute, which
# counts the refusals since the last.
REFUSAL_EVERY_S = 60.0
_REFUSED: Lru[str, tuple[float, int]] = Lru(10_000)


async def record_refusal(session: AsyncSession, refused: KeyRefused, route: str) -> None:
    """Writes the audit entry of a refused key's use (in a transaction of its own: the
    request's rolls back), at most one a minute per key; ``route``: the route's template."""
    key_id = refused.principal.key_id
    now = time.monotonic()
    last, unrecorded = _REFUSED.get(key_id) or (float("-inf"), 0)
    if now - last < REFUSAL_EVERY_S:
        _REFUSED.put(key_id, (last, unrecorded + 1))
        return
    _REFUSED.put(key_id, (now, 0))
    act = audit.Act(
        "key.refused",
        [audit.ref("key", key_id)],
        outcome="refused",
        detail={"why": refused.why, "route": route, "refused_since_last_entry": unrecorded},
    )
    await audit.record(session, refused.principal, act)


async def bootstrap_admin(session: AsyncSession, key: str, tenant_name: str = "default") -> bool:
    """Creates tenant ``default`` with ``key`` as admin, only if that tenant does not exist yet."""
    repo = TenantRepository(session)
    if await repo.get_by_name(tenant_name) is not None:
        return False
    tenant = await repo.create(tenant_name)
    operator = Principal.operator(tenant.id, tenant.name, "bootstrap")
    await create_key(session, tenant.id, Role.admin, label="bootstrap", key=key, actor=operator)
    return True
