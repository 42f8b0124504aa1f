"""SQLite access: one file, WAL, versioned migrations, serialized write transactions.

Why this shape: SQLite allows one writer at a time per file. Inside a process all writes go
through one connection guarded by an asyncio lock, so two coroutines never interleave
statements of different transactions; across processes (`lipsync worker` next to
`lipsync serve`) `BEGIN IMMEDIATE` plus a busy timeout makes writers queue instead of
failing. Reads use a second connection and never wait for a writer (WAL).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from engine.storage import make_private

BUSY_TIMEOUT_MS = 30_000
T = TypeVar("T")

MIGRATIONS: list[str] = [
    # 1: accounts, keys, ledger, jobs
    """
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('api', 'user')),
        owner TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        plan TEXT NOT NULL DEFAULT 'free',
        balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
        created_at REAL NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        name TEXT NOT NULL DEFAULT '',
        secret_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_used_at REAL,
        revoked_at REAL
    );
    CREATE TABLE ledger (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        job_id TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('grant', 'reserve', 'charge', 'refund')),
        amount INTEGER NOT NULL,
        credits INTEGER NOT NULL,
        balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
        note TEXT NOT NULL DEFAULT '',
        ref TEXT UNIQUE,
        created_at REAL NOT NULL
    );
    CREATE INDEX ledger_account ON ledger(account_id, id);
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        model TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'canceled')),
        params TEXT NOT NULL,
        inputs TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        webhook TEXT,
        idempotency_key TEXT,
        request_hash TEXT,
        estimate INTEGER NOT NULL,
        estimate_seconds REAL NOT NULL,
        charged INTEGER,
        output TEXT,
        output_seconds REAL,
        error TEXT NOT NULL DEFAULT '',
        error_code TEXT NOT NULL DEFAULT '',
        stage TEXT NOT NULL DEFAULT '',
        progress REAL NOT NULL DEFAULT 0,
        timings TEXT NOT NULL DEFAULT '{}',
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        lease_owner TEXT,
        lease_expires_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        execution_ms INTEGER,
        UNIQUE (account_id, idempotency_key)
    );
    CREATE INDEX jobs_queue ON jobs(status, created_at);
    CREATE INDEX jobs_account ON jobs(account_id, created_at);
    """,
    # 2: webhook deliveries
    """
    CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL UNIQUE REFERENCES jobs(id),
        url TEXT NOT NULL,
        payload TEXT NOT NULL,
        key_id TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        last_attempt_at REAL,
        last_status_code INTEGER,
        last_error TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        delivered_at REAL
    );
    CREATE INDEX webhook_due ON webhook_deliveries(status, next_attempt_at);
    """,
    # 3: admin keys may manage keys and credits through the API
    """
    ALTER TABLE api_keys ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: people who sign in to the portal, their sessions; the key a job came with
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        admin INTEGER NOT NULL DEFAULT 0,
        api_account_id TEXT NOT NULL REFERENCES accounts(id),
        user_account_id TEXT NOT NULL REFERENCES accounts(id),
        created_at REAL NOT NULL
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user_id);
    ALTER TABLE jobs ADD COLUMN key_id TEXT;
    """,
    # 5: a job's execution time is the time its render attempts took, not the wall clock
    # since its first start (a job put back in the queue by a restart waited meanwhile)
    """
    ALTER TABLE jobs ADD COLUMN attempt_started_at REAL;
    ALTER TABLE jobs ADD COLUMN render_ms INTEGER NOT NULL DEFAULT 0;
    UPDATE jobs SET attempt_started_at = started_at WHERE status = 'processing';
    """,
]


class Database:
    """The service's SQLite file. Open with `await Database.open(path)`."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Keys' hashes, balances and webhook URLs: readable by the service's user only.
        # SQLite gives the -wal and -shm files the database file's own mode.
        make_private(path)
        writer = await _connect(path)
        await migrate(writer)
        reader = await _connect(path)
        return cls(path, writer, reader)

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction taken with BEGIN IMMEDIATE; commits, or rolls back on error.

        Cancellation is the hard case: a task cancelled while its BEGIN (or any statement)
        is queued on the connection's thread still gets that statement run, so the
        connection would stay inside a transaction and every later BEGIN would fail. The
        rollback and commit are therefore shielded from cancellation, and a transaction
        left open anyway is rolled back before the next one starts.
        """
        async with self._write_lock:
            if self._writer.in_transaction:
                await self._writer.rollback()
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
                yield self._writer
            except BaseException:
                await asyncio.shield(self._writer.rollback())
                raise
            else:
                await asyncio.shield(self._writer.commit())

    async def fetchone(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        async with self._reader.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        async with self._reader.execute(sql, params) as cursor:
            return list(await cursor.fetchall())


async def _connect(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: we issue BEGIN ourselves, so Python never opens hidden transactions.
    conn = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    await conn.execute("PRAGMA foreign_keys=ON")
    await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


async def migrate(conn: aiosqlite.Connection) -> int:
    """Bring the schema to the newest version; safe when several processes start at once."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        async with conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in _statements(script):
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version={number}")
        await conn.commit()
    except BaseException:
        await conn.rollback()
        raise
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT our transaction; split on ';' (no ';' inside our DDL).
    return [s.strip() for s in script.split(";") if s.strip()]


def from_row(cls: type[T], row: sqlite3.Row, **decode: Callable[[Any], Any]) -> T:
    """A dataclass made from a row: each field from the column of the same name.

    Columns the dataclass does not name are left out (joins bring extra ones); fields
    without a column keep their defaults. `decode` turns a column into the field's value
    where SQLite stores something else (JSON text, an integer flag).
    """
    columns = set(row.keys())
    values = {
        f.name: decode[f.name](row[f.name]) if f.name in decode else row[f.name]
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in columns
    }
    return cls(**values)
