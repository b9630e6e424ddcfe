"""The label key (app/services/deployment_keys.py): the secret the skill-label cache's hashes
are keyed with.

``skill_embeddings`` is shared by every tenant and keyed by a hash of each label's skill key;
unkeyed, whoever reads the table could hash likely labels and see which are there. Keyed
(HMAC-SHA256, app/ml/text.label_hash), its hashes say nothing without the key. A process with
another key only misses the cache (and fills it again under its own).
"""

from __future__ import annotations

from app.config import Settings
from app.ml import text
from app.services.deployment_keys import KEY_BYTES, LABEL, DeploymentKeyError

__all__ = [
    "KEY_BYTES",
    "KEY_FILE",
    "LabelKeyError",
    "configure",
    "current_key",
    "label_hash",
    "read_label_key",
]

KEY_FILE = LABEL.file_name
LabelKeyError = DeploymentKeyError


def configure(settings: Settings) -> None:
    """Points this process at the label key of ``settings`` (read on first use)."""
    LABEL.configure(settings)


def current_key() -> bytes:
    """The process's label key, read (or made) the first time."""
    return LABEL.current()


def label_hash(label: str) -> bytes:
    """The cache key of a skill label under this process's label key."""
    return text.label_hash(label, LABEL.current())


def read_label_key(settings: Settings) -> bytes:
    """The label key ``settings`` name (the setting, else the data folder's file)."""
    return LABEL.read(settings)
