"""What tests that drive the ``ponte`` command share: invoking it off the event loop, and
reading or changing the database it worked on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from click.testing import Result
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings


def invoker(runner: CliRunner) -> Callable[..., Awaitable[Result]]:
    """``await invoke("reembed", "--all")``: the command run in a worker thread, with the
    settings read afresh from the environment the test set."""

    def invoke(*args: str) -> Awaitable[Result]:
        get_settings.cache_clear()
        return asyncio.to_thread(runner.invoke, cli, list(args))

    return invoke


@dataclass
class Sql:
    """One-statement reads and writes on the owner's connection."""

    engine: AsyncEngine

    async def scalar(self, sql: str) -> Any:
        async with self.engine.connect() as conn:
            return await conn.scalar(text(sql))

    async def execute(self, sql: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(sql))
