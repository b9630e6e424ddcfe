"""Helpers the migration scripts share: the least-privilege service role and its grants, and
the change feed of a table.

Released migrations call these, so what a helper emits is part of their history: never change
it; add a new helper (or a new version of one) for a new migration instead."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
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


def add_change_feed(table: str, tombstones: str, id_column: str, record_function: str) -> None:
    """Gives ``table`` a change feed: a ``changed_xid`` column stamped by a trigger with the
    writing transaction's id (``ponte_stamp_change``, created by migration 0003), and a
    tombstone table ``tombstones`` that a deletion trigger (``record_function``) fills with
    ids only. The service role may read tombstones and prune them, nothing else."""
    op.add_column(
        table,
        sa.Column("changed_xid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.create_index(
        f"ix_{table}_tenant_id_changed_xid",
        table,
        ["tenant_id", "changed_xid"],
        unique=False,
        postgresql_include=["id"],
    )
    op.create_table(
        tombstones,
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("deleted_xid", sa.BigInteger(), nullable=False),
        sa.Column(id_column, sa.UUID(), nullable=False),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "deleted_xid", id_column, name=op.f(f"pk_{tombstones}")
        ),
    )
    op.execute(
        f"""
        CREATE FUNCTION {record_function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO {tombstones} (tenant_id, deleted_xid, {id_column})
          VALUES (OLD.tenant_id, pg_current_xact_id()::text::bigint, OLD.id);
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {table}_stamp_change BEFORE INSERT OR UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION ponte_stamp_change()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_record_deletion AFTER DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {record_function}()"
    )
    op.execute(f"GRANT SELECT, INSERT, DELETE ON {tombstones} TO {app_role()}")


def drop_change_feed(table: str, tombstones: str, record_function: str) -> None:
    """Undoes :func:`add_change_feed`."""
    op.execute(f"DROP TRIGGER {table}_record_deletion ON {table}")
    op.execute(f"DROP TRIGGER {table}_stamp_change ON {table}")
    op.execute(f"DROP FUNCTION {record_function}()")
    revoke_all(tombstones)
    op.drop_table(tombstones)
    op.drop_index(f"ix_{table}_tenant_id_changed_xid", table_name=table)
    op.drop_column(table, "changed_xid")
