"""Helpers the migration scripts share: the least-privilege service role and its grants."""

from __future__ import annotations

import re
from typing import Any

from alembic import op

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _attributes() -> dict[str, Any]:
    config = op.get_context().config
    return dict(config.attributes) if config is not None else {}


def app_role() -> str:
    """Returns the service role's name (validated: it is spliced into DDL)."""
    attributes = _attributes()
    role = attributes.get("app_role")
    if role is None:
        from app.config import get_settings

        role = get_settings().db_app_role
    if not _IDENT.match(role):
        raise ValueError(f"invalid role name {role!r}")
    return str(role)


def ensure_app_role() -> None:
    """Creates the service role if missing: it may log in, and owns nothing."""
    role = app_role()
    op.execute(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
          END IF;
        END $$;
        """
    )
    attributes = _attributes()
    password = attributes.get("app_password")
    if password:
        literal = str(password).replace("'", "''")
        op.execute(f"ALTER ROLE {role} PASSWORD '{literal}'")
    op.execute(
        f"""
        DO $$ BEGIN
          EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database());
        END $$;
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute(f"REVOKE CREATE ON SCHEMA public FROM {role}")
    op.execute(f"GRANT SELECT ON alembic_version TO {role}")


def grant_dml(*tables: str) -> None:
    """Lets the service role read and write rows of ``tables``, nothing more."""
    role = app_role()
    for table in tables:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}")


def revoke_all(*tables: str) -> None:
    """Takes every privilege on ``tables`` back from the service role."""
    role = app_role()
    for table in tables:
        op.execute(f"REVOKE ALL ON {table} FROM {role}")
