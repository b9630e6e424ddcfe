"""The deployment's secrets: keys that never enter the database, so that reading it is not
enough to undo what they protect.

- the **label key** (``PONTE_LABEL_KEY``): the skill-label cache's hashes are keyed with it
  (app/services/label_key.py), so hashing likely labels finds none of them;
- the **audit key** (``PONTE_AUDIT_KEY``): the audit trail's hash chain is keyed with it
  (app/services/audit.py), so whoever can write the table cannot recompute the chain over
  a changed entry; ``ponte audit verify`` needs it.

Each is the setting if set, else a file in the data folder (32 random bytes, made on first use,
mode 0600). Processes sharing a database must share both. One key of each a process:
``configure`` (the app's start-up, every CLI command, tests) names the settings they come from,
and each is read once, on first use; a process that configured nothing (a script) reads
``get_settings()``'s.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings, get_settings
from app.repositories.deployment_keys import (
    fingerprints_kept,
    record_fingerprint,
    recorded_fingerprint,
)

KEY_BYTES = 32
MIN_SETTING_CHARS = 32


class DeploymentKeyError(RuntimeError):
    """A key cannot be read or made (the message says which, never the key)."""


class DeploymentKey:
    """One secret: its setting, its file in the data folder, and the process's copy."""

    def __init__(self, setting: str, file_name: str) -> None:
        self.setting = setting
        self.env = f"PONTE_{setting.upper()}"
        self.file_name = file_name
        self._settings: Settings | None = None
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def configure(self, settings: Settings) -> None:
        """Points this process at the key of ``settings`` (read on first use)."""
        with self._lock:
            self._settings, self._key = settings, None

    def current(self) -> bytes:
        """The process's key, read (or made) the first time."""
        key = self._key
        if key is None:
            with self._lock:
                if self._key is None:
                    self._key = self.read(self._settings or get_settings())
                key = self._key
        return key

    def read(self, settings: Settings) -> bytes:
        """The key ``settings`` name: the setting if set, else the data folder's key file,
        made now if missing."""
        given = getattr(settings, self.setting)
        if given is not None:
            value: str = given.get_secret_value()
            if len(value) < MIN_SETTING_CHARS:
                raise DeploymentKeyError(
                    f"{self.env} must be at least {MIN_SETTING_CHARS} characters "
                    "(e.g. `openssl rand -hex 32`)"
                )
            return value.encode("utf-8")
        path = Path(settings.data_dir).expanduser() / self.file_name
        try:
            if not path.exists():
                _make_key_file(path)
            key = path.read_bytes()
        except OSError as exc:
            raise DeploymentKeyError(
                f"cannot read or make the key file {path}: {exc.strerror}; set {self.env}"
            ) from exc
        if len(key) < KEY_BYTES:
            raise DeploymentKeyError(f"{path} holds {len(key)} bytes, not a key ({KEY_BYTES})")
        return key

    def fingerprint(self) -> bytes:
        """What tells this key from another without saying anything of it."""
        return hmac.digest(self.current(), f"ponte {self.setting} fingerprint".encode(), "sha256")


LABEL = DeploymentKey("label_key", "label.key")
AUDIT = DeploymentKey("audit_key", "audit.key")


def configure(settings: Settings) -> None:
    """Points this process at both keys of ``settings``."""
    for key in (LABEL, AUDIT):
        key.configure(settings)


def load(settings: Settings) -> None:
    """Configures both keys and reads them now: an unreadable key fails a start, not the first
    write."""
    configure(settings)
    for key in (LABEL, AUDIT):
        key.current()


class _Checked:
    done = False  # this process's keys were checked against a database's fingerprints


async def check_against(session: AsyncSession) -> None:
    """Checks each key's fingerprint against the database's, recording it if this process is
    the first to use the database, and refuses (DeploymentKeyError) a key whose fingerprint
    differs: a process with another audit key would chain entries no other process can verify,
    one with another label key would hash labels an erasure elsewhere cannot find. Give it a
    short transaction of its own (a first recording holds back others until it commits).
    Before the migrations (no table yet) there is nothing to check."""
    if not await fingerprints_kept(session):
        return
    for key in (LABEL, AUDIT):
        mine = key.fingerprint()
        recorded = await recorded_fingerprint(session, key.setting)
        if recorded is None:
            recorded = await record_fingerprint(session, key.setting, mine)
        if recorded != mine:
            raise DeploymentKeyError(
                f"{key.env} differs from the key this database was first used with: every "
                'process of a deployment must have the same one (docs/deploy.md, "The '
                "deployment's keys\")"
            )
    _Checked.done = True


async def ensure_checked(session: AsyncSession) -> None:
    """Checks the keys now if the process could not at its start (the database was down):
    writing under an unchecked key is what the check is there to prevent."""
    if not _Checked.done:
        await check_against(session)


def _make_key_file(path: Path) -> None:
    """Writes a new key beside ``path`` and links it into place, so a process starting at the
    same time reads either no file or a whole one; the first link wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
