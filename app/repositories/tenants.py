"""Tenants and API keys. Key lookup by hash is the one query that precedes knowing the tenant."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db.tables import ApiKey, Tenant

# Every request starts with this lookup: built once. The tenant comes along as an entity, so a
# later read of its settings in the same session needs no query (see _kept).
_BY_HASH = (
    select(ApiKey, Tenant)
    .join(Tenant, Tenant.id == ApiKey.tenant_id)
    .where(ApiKey.key_hash == bindparam("key_hash"))
)


def _kept(session: AsyncSession, tenant: Tenant | None) -> Tenant | None:
    """Keeps a tenant read until the transaction ends. The session's identity map holds its
    rows weakly: a tenant no caller still refers to is forgotten, and the request's next read of
    it (its ranker, then whether it matches through the taxonomy) went to the database again.
    Held here, ``session.get`` finds it in the map, as the transaction read it; after a commit
    or a rollback (sessions do not expire rows on commit) the next read goes to the database."""
    if tenant is not None:
        session.info.setdefault(_KEPT, {})[tenant.id] = tenant
    return tenant


_KEPT = "ponte.tenants"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_kept(session: Session, *_: Any) -> None:
    session.info.pop(_KEPT, None)


class TenantRepository:
    """Reads and writes tenants."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: uuid.UUID) -> Tenant | None:
        """Returns the tenant with this id, if any."""
        return _kept(self.session, await self.session.get(Tenant, tenant_id))

    async def set_settings(self, tenant: Tenant, settings: dict[str, Any]) -> None:
        """Replaces the tenant's settings document."""
        tenant.settings = settings
        await self.session.flush()

    async def get_by_name(self, name: str) -> Tenant | None:
        """Returns the tenant called ``name``, if any."""
        return await self.session.scalar(select(Tenant).where(Tenant.name == name))

    async def create(self, name: str) -> Tenant:
        """Inserts a tenant and returns it."""
        tenant = Tenant(name=name)
        self.session.add(tenant)
        await self.session.flush()
        await self.session.refresh(tenant)
        return tenant

    async def delete(self, tenant: Tenant) -> None:
        """Deletes a tenant and, by cascade, everything it owns (operator use only)."""
        await self.session.delete(tenant)
        await self.session.flush()

    async def list(self) -> Sequence[Tenant]:
        """Returns every tenant, by name."""
        return (await self.session.scalars(select(Tenant).order_by(Tenant.name))).all()


class ApiKeyRepository:
    """Reads and writes API keys (only their hashes are stored)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        tenant_id: uuid.UUID,
        key_id: str,
        role: str,
        key_hash: bytes,
        label: str | None,
        expires_at: dt.datetime | None,
    ) -> ApiKey:
        """Inserts a key record and returns it."""
        key = ApiKey(
            id=key_id,
            tenant_id=tenant_id,
            role=role,
            key_hash=key_hash,
            label=label,
            expires_at=expires_at,
        )
        self.session.add(key)
        await self.session.flush()
        await self.session.refresh(key)
        return key

    async def find_by_hash(self, key_hash: bytes) -> tuple[ApiKey, Tenant] | None:
        """Returns the key with this hash and its tenant, whatever the key's state."""
        row = (await self.session.execute(_BY_HASH, {"key_hash": key_hash})).first()
        return (row[0], _kept(self.session, row[1])) if row else None  # type: ignore[return-value]

    async def list_for_tenant(self, tenant_id: uuid.UUID) -> Sequence[ApiKey]:
        """Returns the tenant's keys, oldest first."""
        stmt = (
            select(ApiKey)
            .where(ApiKey.tenant_id == tenant_id)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def get(self, key_id: str, tenant_id: uuid.UUID | None) -> ApiKey | None:
        """Returns one key; ``tenant_id`` None is the operator's CLI, which sees all tenants."""
        stmt = select(ApiKey).where(ApiKey.id == key_id)
        if tenant_id is not None:
            stmt = stmt.where(ApiKey.tenant_id == tenant_id)
        return await self.session.scalar(stmt)

    async def revoke(self, key: ApiKey, when: dt.datetime) -> None:
        """Marks ``key`` revoked from ``when`` on (a revoked key is never reinstated)."""
        if key.revoked_at is None:
            key.revoked_at = when
            await self.session.flush()

    async def touch(self, key_id: str, when: dt.datetime) -> None:
        """Records that the key was used at ``when``."""
        await self.session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when)
        )
