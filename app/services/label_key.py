"""The deployment's label key: the secret the skill-label cache's hashes are keyed with.

``skill_embeddings`` is shared by every tenant and keyed by a hash of each label's skill key;
unkeyed, whoever reads the table could hash likely labels and see which are there. Keyed
(HMAC-SHA256, app/ml/text.label_hash), its hashes say nothing without the key, which never
enters the database: ``PONTE_LABEL_KEY``, else ``<data_dir>/label.key`` (32 random bytes, made
on first use, mode 0600). Processes sharing a database must share the key; one with another
key only misses the cache (and fills it again under its own).

One key a process: ``configure`` (the app's start-up, every CLI command, tests) names the
settings it comes from and the key is read once, on first use; a process that configured
nothing (a script) reads ``get_settings()``'s.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from pathlib import Path

from app.config import Settings, get_settings
from app.ml import text

KEY_FILE = "label.key"
KEY_BYTES = 32
MIN_SETTING_CHARS = 32


class LabelKeyError(RuntimeError):
    """The label key cannot be read or made (the message says which, never the key)."""


class _State:
    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.key: bytes | None = None
        self.lock = threading.Lock()


_state = _State()


def configure(settings: Settings) -> None:
    """Points this process at the label key of ``settings`` (read on first use)."""
    with _state.lock:
        _state.settings = settings
        _state.key = None


def current_key() -> bytes:
    """The process's label key, read (or made) the first time."""
    key = _state.key
    if key is None:
        with _state.lock:
            if _state.key is None:
                _state.key = read_label_key(_state.settings or get_settings())
            key = _state.key
    return key


def label_hash(label: str) -> bytes:
    """The cache key of a skill label under this process's label key."""
    return text.label_hash(label, current_key())


def read_label_key(settings: Settings) -> bytes:
    """The key ``settings`` name: ``label_key`` if set, else the data folder's key file, made
    now if missing."""
    if settings.label_key is not None:
        value = settings.label_key.get_secret_value()
        if len(value) < MIN_SETTING_CHARS:
            raise LabelKeyError(
                f"PONTE_LABEL_KEY must be at least {MIN_SETTING_CHARS} characters "
                "(e.g. `openssl rand -hex 32`)"
            )
        return value.encode("utf-8")
    path = Path(settings.data_dir).expanduser() / KEY_FILE
    try:
        if not path.exists():
            _make_key_file(path)
        key = path.read_bytes()
    except OSError as exc:
        raise LabelKeyError(
            f"cannot read or make the label key {path}: {exc.strerror}; set PONTE_LABEL_KEY"
        ) from exc
    if len(key) < KEY_BYTES:
        raise LabelKeyError(f"{path} holds {len(key)} bytes, not a label key ({KEY_BYTES})")
    return key


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
