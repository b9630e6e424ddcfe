"""Alembic, driven from code: upgrade, downgrade, and the head/current revisions for /readyz."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from app.config import Settings


def migrations_dir() -> Path:
    """Returns the folder holding env.py and versions/ (PONTE_MIGRATIONS_DIR overrides)."""
    override = os.environ.get("PONTE_MIGRATIONS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(owner_url: URL | None = None, settings: Settings | None = None) -> Config:
    """Returns an Alembic config for ``owner_url``; the app role comes from ``settings``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(slug)s",
    )
    if owner_url is not None:
        cfg.attributes["owner_url"] = owner_url
    if settings is not None:
        cfg.attributes["app_role"] = settings.db_app_role
        if settings.db_app_password is not None:
            cfg.attributes["app_password"] = settings.db_app_password.get_secret_value()
    return cfg


def upgrade(owner_url: URL, settings: Settings, revision: str = "head") -> None:
    """Upgrades the database to ``revision`` (blocking; call from a thread inside a loop)."""
    command.upgrade(alembic_config(owner_url, settings), revision)


def downgrade(owner_url: URL, settings: Settings, revision: str) -> None:
    """Downgrades the database to ``revision``."""
    command.downgrade(alembic_config(owner_url, settings), revision)


def head_revisions() -> set[str]:
    """Returns the head revision ids of the migration scripts."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def known_revisions() -> set[str]:
    """Returns every revision id this code's migration scripts know."""
    return {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
