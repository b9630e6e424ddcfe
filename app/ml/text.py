"""The texts Ponte embeds and indexes, built the same way for the API, batch jobs and evaluation."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from typing import Any

_SPACE = re.compile(r"\s+")
# A word of a text's word form: letters and digits, with the signs that make a name of one
# ("C++", "C#" at a word's end, "time@work" inside); any other sign parts words ("Node.js",
# "socio-sanitario", "all'ufficio", and "+" between words: "customer service+sales") or is
# dropped.
_WORD = re.compile(r"\w+(?:@\w+)*(?:[+#]+(?!\w))?")


# Labels recur across thousands of profiles and every ranking compares them: their keys are
# remembered (bounded; a pure function of the label, so forgetting is always safe).
_KEYS: dict[str, str] = {}
_KEYS_MAX = 200_000


def comparison_form(text: str) -> str:
    """A text case- and spacing-insensitive: what labels are compared by (not remembered)."""
    return _SPACE.sub(" ", text).strip().casefold()


def words(text: str) -> list[str]:
    """The words of a text's word form, case folded."""
    return _WORD.findall(text.casefold())


def word_form(text: str) -> str:
    """A text as its words alone: case, spacing and the punctuation between words folded
    ("Node.js" and "node js", "socio-sanitario" and "socio sanitario" are one form), what
    labels are looked for inside a text by (app/ml/concept_links.py)."""
    return " ".join(words(text))


def skill_key(label: str) -> str:
    """Returns the comparison form of a skill label, remembered."""
    key = _KEYS.get(label)
    if key is None:
        if len(_KEYS) >= _KEYS_MAX:
            _KEYS.clear()
        key = _KEYS[label] = comparison_form(label)
    return key


def forget_labels(labels: Iterable[str]) -> None:
    """Drops these labels from the memory of their keys (an erased person's)."""
    for label in labels:
        _KEYS.pop(label, None)


def label_hash(label: str, key: bytes) -> bytes:
    """Returns the cache key of a skill label: its skill key's HMAC-SHA256 under the
    deployment's label key, so the cache holds no text, and hashing likely labels without
    the key finds none of them."""
    return hmac.digest(key, skill_key(label).encode("utf-8"), "sha256")


def content_hash(model_id: str, *texts: str) -> bytes:
    """Returns the hash that decides whether stored vectors are still current."""
    digest = hashlib.sha256(model_id.encode("utf-8"))
    for text in texts:
        digest.update(b"\x1f" + text.encode("utf-8"))
    return digest.digest()


def skill_labels(items: Iterable[Any]) -> list[str]:
    """Returns the labels of stored skills (objects with "label", or plain strings)."""
    return [item["label"] if isinstance(item, dict) else str(item) for item in items]


def _sentence(text: str | None) -> str:
    text = _SPACE.sub(" ", text or "").strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text


def candidate_text(
    summary: str | None, skills: Sequence[Any], desired_occupations: Sequence[str] = ()
) -> str:
    """Returns a candidate's text: summary, then "Skills: …", then desired occupations."""
    parts = [_sentence(summary)]
    labels = skill_labels(skills)
    if labels:
        parts.append("Skills: " + ", ".join(labels) + ".")
    if desired_occupations:
        parts.append("Looking for work as: " + ", ".join(desired_occupations) + ".")
    return " ".join(p for p in parts if p)


def vacancy_text(title: str, description: str | None, required_skills: Sequence[Any]) -> str:
    """Returns a vacancy's text: title, description, then "Required: …"."""
    parts = [_sentence(title), _sentence(description)]
    labels = skill_labels(required_skills)
    if labels:
        parts.append("Required: " + ", ".join(labels) + ".")
    return " ".join(p for p in parts if p)


def occupation_text(desired_occupations: Sequence[str]) -> str:
    """Returns the text compared with vacancy titles (empty when the candidate named none)."""
    return ", ".join(o.strip() for o in desired_occupations if o.strip())
