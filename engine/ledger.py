"""The credit ledger: accounts and their append-only entries.

Every function here runs inside a write transaction the caller opened (`Database.write()`),
so a balance change and the job change that causes it commit together or not at all.

`amount` is each entry's effect on the spendable balance, so the balance is always the sum
of the amounts. A job moves credits in two steps, like a card payment's hold and capture:
`reserve` holds the estimate at submit (-estimate); at completion `charge` records the final
price in `credits` and gives back what the hold over-estimated (+(estimate - price)); on
failure or cancel `refund` gives back the whole hold. Each job settles exactly once: the
settling entry carries the unique ref `settle:<job id>`.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass

import aiosqlite

from engine.db import Database, from_row
from engine.errors import InsufficientCredits, InvalidInput, NotFound
from engine.vocabulary import Plan

ACCOUNT_KINDS = ("api", "user")
# SQLite integers are 64-bit; a trillion credits is far beyond any real balance.
MAX_BALANCE = 10**12


@dataclass(frozen=True)
class Account:
    id: str
    kind: str
    owner: str
    name: str
    plan: str
    balance: int
    created_at: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Account:
        return from_row(cls, row)


@dataclass(frozen=True)
class Entry:
    id: int
    account_id: str
    job_id: str | None
    kind: str
    amount: int
    credits: int
    balance_after: int
    note: str
    created_at: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Entry:
        return from_row(cls, row)


async def create_account(
    conn: aiosqlite.Connection,
    *,
    kind: str,
    owner: str,
    name: str = "",
    plan: str = Plan.FREE,
    credits: int = 0,
    note: str = "starter credits",
) -> Account:
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"unknown account kind {kind!r}")
    account_id = f"acc_{secrets.token_hex(8)}"
    now = time.time()
    await conn.execute(
        "INSERT INTO accounts (id, kind, owner, name, plan, balance, created_at)"
        " VALUES (?, ?, ?, ?, ?, 0, ?)",
        (account_id, kind, owner, name, plan, now),
    )
    if credits:
        await grant(conn, account_id, credits, note=note)
    return await get_account(conn, account_id)


async def get_account(conn: aiosqlite.Connection, account_id: str) -> Account:
    async with conn.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise NotFound(f"no account {account_id}")
    return Account.from_row(row)


async def read_account(db: Database, account_id: str) -> Account:
    """An account as it is now, read without a write transaction."""
    row = await db.fetchone("SELECT * FROM accounts WHERE id = ?", (account_id,))
    if row is None:
        raise NotFound(f"no account {account_id}")
    return Account.from_row(row)


async def resolve_account(db: Database, ref: str) -> Account:
    """An account by id (`acc_...`), by the id of an API key drawing on it, or by owner
    (`telegram:123`)."""
    row = await db.fetchone(
        "SELECT a.* FROM accounts a LEFT JOIN api_keys k ON k.account_id = a.id"
        " WHERE a.id = ? OR a.owner = ? OR k.id = ?",
        (ref, ref, ref),
    )
    if row is None:
        raise NotFound(f"no account, API key or owner named {ref}")
    return Account.from_row(row)


async def find_account_by_owner(conn: aiosqlite.Connection, owner: str) -> Account | None:
    async with conn.execute("SELECT * FROM accounts WHERE owner = ?", (owner,)) as cursor:
        row = await cursor.fetchone()
    return Account.from_row(row) if row else None


async def grant(
    conn: aiosqlite.Connection,
    account_id: str,
    credits: int,
    *,
    note: str = "",
    ref: str | None = None,
) -> Entry | None:
    """Add credits. With `ref` (e.g. a payment's charge id) a second grant is a no-op: None."""
    if credits <= 0:
        raise InvalidInput("credits to grant must be positive")
    account = await get_account(conn, account_id)
    if credits > MAX_BALANCE or account.balance + credits > MAX_BALANCE:
        raise InvalidInput(f"a balance may not exceed {MAX_BALANCE} credits")
    if ref is not None:
        async with conn.execute("SELECT 1 FROM ledger WHERE ref = ?", (ref,)) as cursor:
            if await cursor.fetchone():
                return None
    return await _append(conn, account_id, None, "grant", credits, credits, note, ref)


async def reserve(
    conn: aiosqlite.Connection, account_id: str, job_id: str, credits: int, *, note: str = ""
) -> Entry:
    """Hold `credits` for a job, or raise InsufficientCredits leaving the balance untouched."""
    cursor = await conn.execute(
        "UPDATE accounts SET balance = balance - ? WHERE id = ? AND balance >= ?",
        (credits, account_id, credits),
    )
    if cursor.rowcount != 1:
        account = await get_account(conn, account_id)
        raise InsufficientCredits(
            f"this job costs {credits} credits but the balance is {account.balance}"
        )
    return await _log(conn, account_id, job_id, "reserve", -credits, credits, note, None)


async def settle_charge(
    conn: aiosqlite.Connection, account_id: str, job_id: str, reserved: int, price: int
) -> Entry:
    """Turn a job's hold into its final charge; never more than the hold the user agreed to."""
    price = min(price, reserved)
    back = reserved - price
    note = f"charged {price} credits" + (f", {back} returned from the hold" if back else "")
    return await _append(conn, account_id, job_id, "charge", back, price, note, f"settle:{job_id}")


async def settle_refund(
    conn: aiosqlite.Connection, account_id: str, job_id: str, reserved: int, *, note: str
) -> Entry:
    return await _append(
        conn, account_id, job_id, "refund", reserved, reserved, note, f"settle:{job_id}"
    )


async def entries(
    conn: aiosqlite.Connection, account_id: str, *, limit: int = 50, before_id: int | None = None
) -> list[Entry]:
    sql = "SELECT * FROM ledger WHERE account_id = ?"
    params: list[object] = [account_id]
    if before_id is not None:
        sql += " AND id < ?"
        params.append(before_id)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    async with conn.execute(sql, params) as cursor:
        return [Entry.from_row(r) for r in await cursor.fetchall()]


async def spent_per_day(db: Database, account_id: str, *, days: int) -> list[tuple[str, int]]:
    """Credits charged per UTC day over the last `days` days, oldest first (days without
    any are left out)."""
    rows = await db.fetchall(
        "SELECT date(created_at, 'unixepoch') AS day, SUM(credits) AS spent FROM ledger"
        " WHERE account_id = ? AND kind = 'charge' AND created_at >= ?"
        " GROUP BY day ORDER BY day",
        (account_id, time.time() - days * 86400),
    )
    return [(row["day"], int(row["spent"])) for row in rows]


async def _append(
    conn: aiosqlite.Connection,
    account_id: str,
    job_id: str | None,
    kind: str,
    amount: int,
    credits: int,
    note: str,
    ref: str | None,
) -> Entry:
    cursor = await conn.execute(
        "UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, account_id)
    )
    if cursor.rowcount != 1:
        raise NotFound(f"no account {account_id}")
    return await _log(conn, account_id, job_id, kind, amount, credits, note, ref)


async def _log(
    conn: aiosqlite.Connection,
    account_id: str,
    job_id: str | None,
    kind: str,
    amount: int,
    credits: int,
    note: str,
    ref: str | None,
) -> Entry:
    now = time.time()
    cursor = await conn.execute(
        "INSERT INTO ledger (account_id, job_id, kind, amount, credits, balance_after, note,"
        " ref, created_at)"
        " VALUES (?, ?, ?, ?, ?, (SELECT balance FROM accounts WHERE id = ?), ?, ?, ?)"
        " RETURNING *",
        (account_id, job_id, kind, amount, credits, account_id, note, ref, now),
    )
    row = await cursor.fetchone()
    await cursor.close()
    assert row is not None
    return Entry.from_row(row)
