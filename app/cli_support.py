"""What the ``ponte`` commands share: settings with logging configured, failing with a message."""

from __future__ import annotations

import typer

from app.config import Settings, get_settings
from app.logging import configure_logging


def settings() -> Settings:
    found = get_settings()
    configure_logging(found.log_level, found.log_json)
    return found


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)
