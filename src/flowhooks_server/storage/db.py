"""The database handle: one async engine per process, SQLite (embedded default) or PostgreSQL.

On SQLite every connection runs in WAL mode with foreign keys on, in the event loop's thread
for a database file (`storage.sqlite_inline`), and a write session starts with
`BEGIN IMMEDIATE` (the write lock up front, so a transaction never fails to upgrade its
lock half-way); `session(readonly=True)` starts a plain deferred `BEGIN` that does not wait for
writers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from flowhooks_server.background import Background
from flowhooks_server.storage import sqlite_inline

PING_TIMEOUT_S = 1.0
SQLITE_BUSY_TIMEOUT_MS = 30_000
_READONLY = "flowhooks_readonly"


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" \
            or database.startswith("file:"):
        return None
    return Path(database)


def ensure_sqlite_dir(url: str | URL) -> None:
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


class Database:
    def __init__(self, url: str):
        self.url = url
        backend = make_url(url).get_backend_name()
        self._postgres = backend == "postgresql"
        self._sqlite = backend == "sqlite"
        self._file = sqlite_file(url) if self._sqlite else None
        self._checkpoints = Background("sqlite-checkpoint")
        if self._sqlite:
            ensure_sqlite_dir(url)
            kwargs: dict = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
            if self._file is not None:
                kwargs = {"async_creator": sqlite_inline.creator(
                    str(self._file), SQLITE_BUSY_TIMEOUT_MS / 1000)}
        else:
            kwargs = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10,
                      "pool_timeout": 5, "pool_recycle": 1800}
            if self._postgres:
                kwargs["connect_args"] = {"connect_timeout": 5}
        # Bound parameters never reach an error message or a log line: they hold secrets.
        self.engine = create_async_engine(url, hide_parameters=True, **kwargs)
        if self._sqlite:
            event.listen(self.engine.sync_engine, "connect",
                         _inline_pragmas if self._file is not None else _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        self._reader = self.engine.execution_options(**{_READONLY: True})
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self._reader, expire_on_commit=False)
        self._write_lock = asyncio.Lock()

    @property
    def is_postgres(self) -> bool:
        return self._postgres

    @property
    def is_sqlite(self) -> bool:
        return self._sqlite

    @contextlib.asynccontextmanager
    async def session(self, readonly: bool = False) -> AsyncIterator[AsyncSession]:
        """A session; use `session.begin()` for a transaction. `readonly` only matters on
        SQLite, where it lets the session read without taking the write lock."""
        if readonly or not self._sqlite:
            async with (self._read_sessions if readonly else self._sessions)() as session:
                yield session
            return
        # One writer at a time per process: SQLite has one write lock, and a connection that
        # waits for it in SQLite's busy handler sleeps in steps of up to 100 ms.
        async with self._write_lock, self._sessions() as session:
            yield session

    async def ping(self) -> bool:
        """Whether the database answers `SELECT 1` within PING_TIMEOUT_S; never raises."""
        try:
            async with asyncio.timeout(PING_TIMEOUT_S), self._reader.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False

    def start_checkpoints(self) -> None:
        """On a SQLite file, WAL checkpoints from now on (see `storage.sqlite_inline`)."""
        if self._file is not None and not self._checkpoints.running:
            self._checkpoints.start(sqlite_inline.Checkpointer(self._file).run)

    async def dispose(self) -> None:
        await self._checkpoints.stop()
        await self.engine.dispose()


async def affected(session: AsyncSession, statement: Executable,
                   params: Any = None) -> int:
    """Run an UPDATE or DELETE and return how many rows it touched."""
    result = await session.execute(statement, params)
    return cast(CursorResult[Any], result).rowcount


def dialect_insert(session: AsyncSession, model):
    """An INSERT for the session's database, with `on_conflict_do_nothing` / `_do_update`."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON")


def _sqlite_pragmas(dbapi_connection, _record,
                    pragmas: tuple[str, ...] = (*_PRAGMAS,
                                                f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                    ) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun by _sqlite_begin
    cursor = dbapi_connection.cursor()
    for pragma in pragmas:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _inline_pragmas(dbapi_connection, record) -> None:
    """An inline connection waits for locks itself (busy_timeout stays 0)."""
    _sqlite_pragmas(dbapi_connection, record, _PRAGMAS)


def _sqlite_begin(conn) -> None:
    readonly = conn.get_execution_options().get(_READONLY, False)
    conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
