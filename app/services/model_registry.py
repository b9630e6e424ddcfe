"""The learned rankers' artefacts and which one serves a tenant.

- **Artefacts** are skops files under ``PONTE_MODELS_DIR``, named ``<sha256>.skops`` after
  their bytes, written once (to a temporary name, then renamed) and read-only after. Loading
  refuses a file whose SHA-256 is not the one the registry row records, a file holding any
  type skops does not trust by default (nothing in it may run code), a model whose
  ``feature_version`` is not the one the service computes, and (given the service's model)
  one trained on the features of another embedding model (migration 0020).
- **Serving.** Every request reads the tenant's row (``active_ranker``) with the ranker it
  needs, so each process serves an activation on its next request; loaded models are cached
  per process by (tenant, version), which never changes meaning (artefacts are immutable).
  A model that cannot be loaded is logged, counted for ``/readyz`` (its ``rankers`` check),
  and the tenant is served by the default scorer until it is fixed or rolled back.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.ml.features import FEATURE_VERSION, FEATURES
from app.ml.learned import LinearRanker
from app.repositories.rankers import RankerRepository

log = structlog.get_logger("ponte.rankers")

CACHE_SIZE = 64
# A model that failed to load is tried again after this long, not on every request: each try
# reads and hashes the file.
RETRY_FAILED_S = 60.0
SUFFIX = ".skops"
_DIGEST = re.compile(r"[0-9a-f]{64}")


class ArtefactError(Exception):
    """A learned ranker that must not be served, and why."""


class _State:
    def __init__(self) -> None:
        self.models_dir = Path("./models")
        # (tenant, version) → the model and the embedding model it was trained with (None:
        # not recorded)
        self.cache: OrderedDict[tuple[uuid.UUID, str], tuple[LinearRanker, str | None]] = (
            OrderedDict()
        )
        self.failures: dict[uuid.UUID, str] = {}
        # (tenant, version) → when its load last failed
        self.failed_at: dict[tuple[uuid.UUID, str], float] = {}
        self.lock = threading.Lock()


_state = _State()


def configure(models_dir: Path) -> None:
    """Points this process at its artefacts' folder (at start-up, and by the CLI)."""
    with _state.lock:
        _state.models_dir = Path(models_dir)
        _state.cache.clear()
        _state.failures.clear()
        _state.failed_at.clear()


def write_artefact(artefact: dict[str, Any], *, write: bool = True) -> str:
    """Writes the artefact once (unless ``write`` is false: a dry run); returns its SHA-256
    (hex), which names the file."""
    import skops.io as sio  # here, not at the top: it imports all of scikit-learn (~2.7 s)

    data = sio.dumps(artefact)
    digest = hashlib.sha256(data).hexdigest()
    if not write:
        return digest
    folder = _state.models_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}{SUFFIX}"
    if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        path.unlink()  # a damaged file under this name: write it anew
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".writing-", suffix=SUFFIX)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o444)
        os.replace(tmp, path)
    return digest


def read_artefact(digest: str) -> dict[str, Any]:
    """The artefact named ``digest``, checked (module docstring); ArtefactError if not."""
    if not _DIGEST.fullmatch(digest):
        raise ArtefactError("the registry's checksum is not a SHA-256")
    path = _state.models_dir / f"{digest}{SUFFIX}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtefactError(f"artefact {path.name} cannot be read ({exc.strerror})") from exc
    if hashlib.sha256(data).hexdigest() != digest:
        raise ArtefactError(f"artefact {path.name} does not match its checksum")
    import skops.io as sio  # see write_artefact

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise ArtefactError(f"artefact {path.name} is not a skops file") from exc
    if untrusted:
        raise ArtefactError(f"artefact {path.name} holds untrusted types: {', '.join(untrusted)}")
    try:
        loaded = sio.loads(data, trusted=[])
    except Exception as exc:
        raise ArtefactError(
            f"artefact {path.name} cannot be loaded ({type(exc).__name__})"
        ) from exc
    if not isinstance(loaded, dict):
        raise ArtefactError(f"artefact {path.name} is not a Ponte ranker")
    return loaded


async def load(
    session: AsyncSession, tenant_id: uuid.UUID, version: str, model_id: str | None = None
) -> LinearRanker:
    """The tenant's model ``version``, from the cache or its checked artefact; refused when it
    was trained on the features of another embedding model than ``model_id`` (when given)."""
    key = (tenant_id, version)
    with _state.lock:
        cached = _state.cache.get(key)
        if cached is not None:
            _state.cache.move_to_end(key)
    if cached is None:
        cached = await _read(session, tenant_id, version)
        with _state.lock:
            _state.cache[key] = cached
            _state.failed_at.pop(key, None)  # loads now (an activation checks it so)
            while len(_state.cache) > CACHE_SIZE:
                _state.cache.popitem(last=False)
    ranker, trained_with = cached
    if model_id is not None and trained_with is not None and trained_with != model_id:
        raise ArtefactError(
            f"model '{version}' was trained on features of the embedding model "
            f"'{trained_with}'; this service embeds with '{model_id}': train again (ponte train)"
        )
    return ranker


async def _read(
    session: AsyncSession, tenant_id: uuid.UUID, version: str
) -> tuple[LinearRanker, str | None]:
    """Model ``version`` from its registry row and checked artefact, with the embedding model
    its features were made with."""
    row = await RankerRepository(session).get(tenant_id, version)
    if row is None:
        raise ArtefactError(f"no model '{version}' in the registry")
    if row.feature_version != FEATURE_VERSION:
        raise ArtefactError(
            f"model '{version}' was trained on {row.feature_version}; "
            f"this service computes {FEATURE_VERSION}"
        )
    artefact = read_artefact(row.sha256)
    try:
        ranker = LinearRanker.from_artefact(version, artefact)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtefactError(f"model '{version}': {exc}") from exc
    unknown = set(ranker.features) - set(FEATURES)
    if unknown or list(ranker.features) != list(row.features):
        raise ArtefactError(f"model '{version}' reads features this service does not compute")
    return ranker, row.embedding_model


async def serving(
    session: AsyncSession, tenant_id: uuid.UUID, version: str, model_id: str | None = None
) -> LinearRanker | None:
    """The model to serve, or None (and the failure logged and remembered) when it cannot be
    loaded; the caller then serves the default scorer."""
    key = (tenant_id, version)
    with _state.lock:
        failed = _state.failed_at.get(key)
    if failed is not None and time.monotonic() - failed < RETRY_FAILED_S:
        return None
    try:
        ranker = await load(session, tenant_id, version, model_id)
    except ArtefactError as exc:
        message = f"{version}: {exc}"
        with _state.lock:
            first = _state.failures.get(tenant_id) != message
            _state.failures[tenant_id] = message
            _state.failed_at[key] = time.monotonic()
        if first:
            log.error("ranker_fallback", tenant=str(tenant_id), version=version, error=str(exc))
        return None
    with _state.lock:
        _state.failures.pop(tenant_id, None)
    return ranker


def forget_failure(tenant_id: uuid.UUID) -> None:
    """The tenant no longer asks for a learned ranker (rolled back to the default)."""
    with _state.lock:
        _state.failures.pop(tenant_id, None)


def health() -> str:
    """``/readyz``'s ``rankers`` check: "ok", or how many tenants fall back to the default
    (which, and why, is in the log: ``/readyz`` answers without a key)."""
    with _state.lock:
        failures = len(_state.failures)
    if not failures:
        return "ok"
    return (
        f"{failures} tenant(s) served the default scorer: their learned ranker failed to load, "
        "or was trained with another embedding model (the log's ranker_fallback events say "
        "which and why)"
    )
