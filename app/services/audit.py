"""The audit trail (EU AI Act Art. 12): who did what, to which objects, with which ranker and
model, when, under which request, and how it ended, one entry per act, hash-chained per tenant.

An entry is written in the transaction of the act it records, as its last statement, so the
act and its entry commit together or not at all (a refused key, whose request rolls back, is
recorded in a transaction of its own). Writing takes the tenant's chain lock (held to commit:
that is what keeps the chain a line, not a tree) and appends with the previous entry's hash,
keyed with the deployment's audit key, in one round trip when this process knows the chain's
last entry (migration 0017) — or none of its own, where the act's one statement carries the
entries and is its own transaction, the lock released as it ends (:func:`prepare`,
:func:`settle`: a request's shortlist, app/services/shortlists.py);
``verify`` walks the chain and recomputes every hash.
Objects are named by surrogate ids.
"""

from __future__ import annotations

import datetime as dt
import hmac
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.audit_tables import AuditEntry
from app.errors import BadRequest
from app.repositories.audit import AuditRepository
from app.schemas import Principal
from app.services.cursors import decode_cursor, encode_cursor
from app.services.deployment_keys import AUDIT, ensure_checked
from app.services.lru import Lru
from app.vocabulary import AUDIT_ACTIONS

_ACTIONS = frozenset(AUDIT_ACTIONS)
# Per tenant, the number and hash of the last entry this process made ready to append: what its
# next entry is chained onto, checked under the lock by the database (a guess gone stale —
# another process appended, or a transaction rolled back — costs one more round trip, never a
# fork).
_HEADS: Lru[uuid.UUID, tuple[int, bytes | None]] = Lru(10_000)
_HEADS_LOCK = threading.Lock()  # a command run in a thread beside the app shares it
# The fields an entry's hash covers, in the canonical form's (sorted) order of keys.
_HASHED = (
    "tenant_id",
    "seq",
    "at",
    "action",
    "key_id",
    "role",
    "key_label",
    "actor_ref",
    "objects",
    "ranker_version",
    "model_version",
    "request_id",
    "outcome",
    "detail",
)


def ref(kind: str, object_id: uuid.UUID | str) -> dict[str, str]:
    """An entry's reference to one object: its kind and surrogate id."""
    return {"type": kind, "id": str(object_id)}


def refs(kind: str, object_ids: Iterable[uuid.UUID | str | None]) -> list[dict[str, str]]:
    """References to several objects of one kind (None, an erased one, is left out)."""
    return [ref(kind, i) for i in dict.fromkeys(object_ids) if i is not None]


@dataclass
class Act:
    """One act to record."""

    action: str
    objects: Sequence[dict[str, str]] = ()
    ranker_version: str | None = None
    model_version: str | None = None
    outcome: str = "ok"
    detail: dict[str, Any] = field(default_factory=dict)
    # The caller's user reference for this act when it differs from the request's (a
    # feedback event names who decided).
    actor_ref: str | None = None


def _check_plain(value: Any) -> None:
    """Refuses detail that would not read back from jsonb as it was written (a float may
    come back another number, NaN not at all), which would break the entry's hash."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("audit detail keys are strings")
            _check_plain(item)
    elif isinstance(value, list):
        for item in value:
            _check_plain(item)
    elif not (value is None or isinstance(value, str | bool | int)):
        raise TypeError(f"audit detail holds text, integers, booleans and null, not {value!r}")


def canonical(entry: dict[str, Any]) -> bytes:
    """The bytes an entry's hash covers: its fields as sorted-key JSON (the time in UTC ISO
    form, ids as text), the same whether built for writing or read back for verifying."""
    at: dt.datetime = entry["at"]
    fields = {name: entry[name] for name in _HASHED}
    fields["at"] = at.astimezone(dt.UTC).isoformat()
    fields["tenant_id"] = str(entry["tenant_id"])
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def chain_hash(prev_hash: bytes | None, entry: dict[str, Any]) -> bytes:
    """An entry's hash: HMAC-SHA256, under the deployment's audit key, of the previous entry's
    hash and the entry's canonical form. Keyed, so that whoever can write the table but does
    not hold the key cannot recompute the chain over an entry they changed."""
    return hmac.digest(AUDIT.current(), (prev_hash or b"") + canonical(entry), "sha256")


def _who(principal: Principal) -> dict[str, Any]:
    if principal.kind == "key":
        return {
            "key_id": principal.key_id,
            "role": str(principal.role),
            "key_label": principal.key_label,
        }
    # An operator's command or a worker: no key; the label names the command or the job.
    return {"key_id": None, "role": principal.kind, "key_label": principal.key_id}


@dataclass(frozen=True)
class Prepared:
    """Entries made ready to append, chained onto what this process believes is the tenant's
    last entry (``onto``): what :func:`record` sends, or what a caller's own last statement
    carries (a request's snapshot, app/repositories/shortlists.py), saving the round trip."""

    tenant_id: uuid.UUID
    onto: tuple[int, bytes | None]
    rows: list[dict[str, Any]]

    @property
    def head(self) -> tuple[int, bytes | None]:
        """The chain's last entry once these are appended."""
        return self.rows[-1]["seq"], self.rows[-1]["hash"]


async def prepare(
    session: AsyncSession,
    principal: Principal,
    *acts: Act,
    onto: tuple[int, bytes | None] | None = None,
) -> Prepared:
    """Builds and hashes the entries for ``acts``, done by ``principal`` in its tenant, chained
    onto ``onto`` (the last entry's number and hash; by default this process's belief)."""
    for act in acts:
        if act.action not in _ACTIONS:
            raise ValueError(f"not an audit action: {act.action!r}")
        _check_plain(act.detail)
    await ensure_checked(session)
    tenant_id = principal.tenant_id
    at = dt.datetime.now(dt.UTC)
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    who = _who(principal)
    # one lock section from reading the head to reserving the new one: a command's thread
    # beside the app must not chain onto the same head (the database would refuse it: a retry)
    with _HEADS_LOCK:
        if onto is None:
            onto = _HEADS.get(tenant_id) or (0, None)
        rows = []
        seq, prev = onto
        for act in acts:
            seq += 1
            row = {
                "tenant_id": tenant_id,
                "seq": seq,
                "at": at,
                "action": act.action,
                **who,
                "actor_ref": act.actor_ref or principal.actor_ref,
                "objects": list(act.objects),
                "ranker_version": act.ranker_version,
                "model_version": act.model_version,
                "request_id": request_id,
                "outcome": act.outcome,
                "detail": act.detail,
                "prev_hash": prev,
            }
            row["hash"] = prev = chain_hash(prev, row)
            rows.append(row)
        prepared = Prepared(tenant_id, onto, rows)
        # what this process's next entry chains onto: these, once appended — so that requests
        # of this process running side by side chain one after another, not all onto one head
        # (the database's check under the lock decides; a guess gone wrong costs a retry)
        _HEADS.put(tenant_id, prepared.head)
    return prepared


def settle(prepared: Prepared, answer: tuple[bool, int, bytes | None] | None) -> None:
    """Takes in what appending ``prepared`` answered (whether it appended, and the chain's
    last entry's number and hash): when it did not, that entry is what the next try chains
    onto (another writer appended first, or an entry this process chained onto was rolled
    back). ``None``: it was not tried (nothing was appended), so the chain is where it was."""
    with _HEADS_LOCK:
        if answer is None:
            if _HEADS.get(prepared.tenant_id) == prepared.head:
                _HEADS.put(prepared.tenant_id, prepared.onto)
        elif not answer[0]:
            _HEADS.put(prepared.tenant_id, (answer[1], answer[2]))


async def record(session: AsyncSession, principal: Principal, *acts: Act) -> None:
    """Appends entries for ``acts``, done by ``principal`` in its tenant, to the tenant's chain.
    Call it last in the act's transaction: the chain lock is held until that commits."""
    if not acts:
        return
    repo = AuditRepository(session)
    onto = None
    for _ in range(2):
        prepared = await prepare(session, principal, *acts, onto=onto)
        answer = await repo.append(prepared.tenant_id, prepared.onto, prepared.rows)
        settle(prepared, answer)
        appended, head_seq, head_hash = answer
        if appended:
            return
        # another writer (process) appended since: chain onto what is there, under the lock
        # this call took, so the second try cannot miss
        onto = (head_seq, head_hash)
    raise RuntimeError("the audit chain moved while its lock was held")  # pragma: no cover


@dataclass(frozen=True)
class Verdict:
    """What walking a tenant's chain found: how many entries, and the first that is wrong."""

    entries: int
    broken_at: int | None = None
    reason: str | None = None
    head: bytes | None = None  # the last entry's hash, when the chain verified

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _HASHED}


async def verify(session: AsyncSession, tenant_id: uuid.UUID) -> Verdict:
    """Recomputes the tenant's chain: numbers 1, 2, 3 … with no gap, each entry's
    ``prev_hash`` the hash of the one before, each ``hash`` that of its own fields."""
    expected_seq, prev, count = 1, None, 0
    async for entry in AuditRepository(session).chain(tenant_id):
        if entry.seq != expected_seq:
            return Verdict(count, expected_seq, f"entry {expected_seq} is missing")
        stored_prev = bytes(entry.prev_hash) if entry.prev_hash is not None else None
        if stored_prev != prev:
            return Verdict(count, entry.seq, "it does not carry the previous entry's hash")
        if bytes(entry.hash) != chain_hash(prev, _as_dict(entry)):
            return Verdict(count, entry.seq, "its content does not match its hash")
        prev, expected_seq, count = bytes(entry.hash), expected_seq + 1, count + 1
    return Verdict(count, head=prev)


def represent(entry: AuditEntry) -> dict[str, Any]:
    """An entry as GET /v1/audit shows it."""
    return {
        "seq": entry.seq,
        "at": entry.at,
        "action": entry.action,
        "actor": {
            "key_id": entry.key_id,
            "role": entry.role,
            "label": entry.key_label,
            "actor_ref": entry.actor_ref,
        },
        "objects": entry.objects,
        "ranker_version": entry.ranker_version,
        "model_version": entry.model_version,
        "request_id": entry.request_id,
        "outcome": entry.outcome,
        "detail": entry.detail,
        "hash": bytes(entry.hash).hex(),
    }


def _cursor(seq: int) -> str:
    return encode_cursor(str(seq))


def _after(cursor: str) -> int:
    seq = decode_cursor(cursor)
    if not (seq.isascii() and seq.isdigit()) or len(seq) > 18:
        raise BadRequest("invalid cursor")
    return int(seq)


async def list_entries(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None = None,
    at_from: dt.datetime | None = None,
    at_to: dt.datetime | None = None,
    action: str | None = None,
    object_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """A page of the tenant's entries in chain order (reading it is itself recorded)."""
    rows = await AuditRepository(session).page(
        principal.tenant_id,
        limit=limit + 1,
        after_seq=_after(cursor) if cursor else None,
        at_from=at_from,
        at_to=at_to,
        action=action,
        object_id=object_id,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    page = {
        "items": [represent(r) for r in rows],
        "next_cursor": _cursor(rows[-1].seq) if more else None,
    }
    filters = {"from": at_from, "to": at_to, "action": action}
    detail = {k: str(v) for k, v in filters.items() if v is not None} | {"entries": len(rows)}
    # the object asked about is an object of the read (an export of that person lists it)
    about = [ref("object", object_id)] if object_id is not None else []
    await record(session, principal, Act("audit.read", about, detail=detail))
    return page
