"""The write transaction survives cancellation at any point (a cancelled heartbeat, say)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine.db import Database


async def test_cancelling_a_transaction_anywhere_leaves_the_connection_usable(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "x.sqlite3")
    try:
        async with db.write() as conn:
            await conn.execute("CREATE TABLE t (n INTEGER)")

        async def writer(n: int) -> None:
            async with db.write() as conn:
                await conn.execute("INSERT INTO t VALUES (?)", (n,))
                await conn.execute("INSERT INTO t VALUES (?)", (n,))

        # Cancel after 0, 1, 2, ... loop iterations: sooner or later inside BEGIN, between
        # the inserts, or during the commit.
        for delay_steps in range(12):
            task = asyncio.create_task(writer(delay_steps))
            for _ in range(delay_steps):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        await writer(99)  # would raise "cannot start a transaction within a transaction"
        rows = await db.fetchall("SELECT n, COUNT(*) AS c FROM t GROUP BY n")
        assert all(r["c"] == 2 for r in rows)  # never half a transaction
        assert any(r["n"] == 99 for r in rows)
    finally:
        await db.close()
