"""The job queue in SQLite: submit, claim with a lease, heartbeat, finish, cancel, recover.

    queued -> processing -> completed | failed | canceled

A worker owns a job only while its lease holds: it claims with `lease_owner` and an expiry,
renews the expiry with heartbeats, and every finishing write checks it still owns the job.
So a worker that was killed (or paused past its lease) can never settle a job that another
worker has since re-run: the job is charged exactly once. Every state change that moves
credits does so in the same transaction, through `engine.ledger`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from engine import ledger
from engine.db import Database, from_row
from engine.errors import Conflict, NotFound
from engine.vocabulary import FINAL_STATUSES, Stage


@dataclass(frozen=True)
class Job:
    id: str
    account_id: str
    model: str
    status: str
    params: dict[str, Any]
    inputs: dict[str, str]
    source: str
    webhook: str | None
    estimate: int
    estimate_seconds: float
    charged: int | None
    output: str | None
    output_seconds: float | None
    error: str
    error_code: str
    stage: str
    progress: float
    timings: dict[str, float]
    attempts: int
    max_attempts: int
    lease_owner: str | None
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None
    execution_ms: int | None
    idempotency_key: str | None = None
    request_hash: str | None = None
    key_id: str | None = None  # the API key that submitted it: its secret signs the webhook
    attempt_started_at: float | None = None  # when the render running now was claimed
    render_ms: int = 0  # time taken by its earlier render attempts (execution_ms adds them up)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        return from_row(cls, row, params=json.loads, inputs=json.loads, timings=json.loads)


@dataclass(frozen=True)
class NewJob:
    id: str
    account_id: str
    model: str
    params: dict[str, Any]
    inputs: dict[str, str]
    estimate: int
    estimate_seconds: float
    max_attempts: int
    source: str = ""
    webhook: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    key_id: str | None = None
    note: str = field(default="")


async def insert(conn: aiosqlite.Connection, new: NewJob) -> Job:
    """Queue a job and hold its estimate, in the caller's transaction; the job as queued.

    Read back on the writing connection: the service's reading connection may be inside an
    older snapshot (another task's statement still open on it), which has no such job yet.
    """
    now = time.time()
    await conn.execute(
        "INSERT INTO jobs (id, account_id, model, status, params, inputs, source, webhook,"
        " idempotency_key, request_hash, estimate, estimate_seconds, max_attempts,"
        " created_at, updated_at, key_id)"
        " VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            new.id,
            new.account_id,
            new.model,
            json.dumps(new.params, sort_keys=True),
            json.dumps(new.inputs, sort_keys=True),
            new.source,
            new.webhook,
            new.idempotency_key,
            new.request_hash,
            new.estimate,
            new.estimate_seconds,
            new.max_attempts,
            now,
            now,
            new.key_id,
        ),
    )
    await ledger.reserve(
        conn, new.account_id, new.id, new.estimate, note=new.note or f"hold for {new.model}"
    )
    job = await _get(conn, new.id)
    assert job is not None  # inserted just above, in this transaction
    return job


async def get(db: Database, job_id: str) -> Job:
    row = await db.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
    if row is None:
        raise NotFound(f"no job with id {job_id}")
    return Job.from_row(row)


async def find_by_idempotency_key(db: Database, account_id: str, key: str) -> Job | None:
    row = await db.fetchone(
        "SELECT * FROM jobs WHERE account_id = ? AND idempotency_key = ?", (account_id, key)
    )
    return Job.from_row(row) if row else None


async def list_jobs(
    db: Database,
    *,
    account_id: str | None = None,
    statuses: Sequence[str] = (),
    model: str | None = None,
    limit: int = 20,
    before: float | None = None,
) -> list[Job]:
    where: list[str] = []
    params: list[Any] = []
    if account_id is not None:
        where.append("account_id = ?")
        params.append(account_id)
    if statuses:
        where.append(f"status IN ({','.join('?' * len(statuses))})")
        params.extend(statuses)
    if model is not None:
        where.append("model = ?")
        params.append(model)
    if before is not None:
        where.append("created_at < ?")
        params.append(before)
    sql = "SELECT * FROM jobs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC LIMIT ?"
    params.append(limit)
    return [Job.from_row(r) for r in await db.fetchall(sql, params)]


async def queue_depth(db: Database) -> tuple[int, int]:
    """How many jobs are (queued, processing) now, across every worker process."""
    row = await db.fetchone(
        "SELECT SUM(status = 'queued') AS queued, SUM(status = 'processing') AS processing"
        " FROM jobs"
    )
    if row is None:
        return 0, 0
    return int(row["queued"] or 0), int(row["processing"] or 0)


async def awaiting_webhook(db: Database, *, limit: int) -> list[Job]:
    """Finished jobs that asked for a webhook and have no delivery yet, oldest first."""
    rows = await db.fetchall(
        "SELECT j.* FROM jobs j WHERE j.webhook IS NOT NULL"
        " AND j.status IN ('completed', 'failed', 'canceled')"
        " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.job_id = j.id)"
        " ORDER BY j.finished_at LIMIT ?",
        (limit,),
    )
    return [Job.from_row(r) for r in rows]


async def claim(
    db: Database, owner: str, models: Iterable[str], lease_seconds: float
) -> Job | None:
    """Take the oldest queued job of a model this worker can run, or None."""
    models = list(models)
    now = time.time()
    async with db.write() as conn:
        cursor = await conn.execute(
            "UPDATE jobs SET status = 'processing', attempts = attempts + 1, lease_owner = ?,"
            " lease_expires_at = ?, started_at = COALESCE(started_at, ?), updated_at = ?,"
            " attempt_started_at = ?, stage = ?, progress = 0"
            " WHERE id = (SELECT id FROM jobs WHERE status = 'queued'"
            f" AND model IN ({','.join('?' * len(models))}) ORDER BY created_at LIMIT 1)"
            " RETURNING *",
            (owner, now + lease_seconds, now, now, now, Stage.STARTING, *models),
        )
        row = await cursor.fetchone()
        await cursor.close()
    return Job.from_row(row) if row else None


async def heartbeat(
    db: Database,
    job_id: str,
    owner: str,
    lease_seconds: float,
    *,
    stage: str | None = None,
    progress: float | None = None,
) -> bool:
    """Renew the lease (and report progress). False: the job is no longer ours to run."""
    now = time.time()
    async with db.write() as conn:
        cursor = await conn.execute(
            "UPDATE jobs SET lease_expires_at = ?, updated_at = ?,"
            " stage = COALESCE(?, stage), progress = COALESCE(?, progress)"
            " WHERE id = ? AND lease_owner = ? AND status = 'processing'",
            (now + lease_seconds, now, stage, progress, job_id, owner),
        )
        return cursor.rowcount == 1


async def complete(
    db: Database,
    job_id: str,
    owner: str,
    *,
    output: str,
    output_seconds: float,
    price: int,
    timings: dict[str, float],
) -> Job | None:
    """Mark done and charge. None when the lease was lost (the result is then discarded)."""
    async with db.write() as conn:
        job = await _owned(conn, job_id, owner)
        if job is None:
            return None
        now = time.time()
        entry = await ledger.settle_charge(conn, job.account_id, job.id, job.estimate, price)
        await conn.execute(
            "UPDATE jobs SET status = 'completed', output = ?, output_seconds = ?, charged = ?,"
            " stage = 'done', progress = 1, timings = ?, finished_at = ?, updated_at = ?,"
            " execution_ms = ?, lease_owner = NULL, lease_expires_at = NULL WHERE id = ?",
            (
                output,
                output_seconds,
                entry.credits,
                json.dumps(timings),
                now,
                now,
                _execution_ms(job, now),
                job_id,
            ),
        )
        return await _get(conn, job_id)


async def fail(
    db: Database,
    job_id: str,
    owner: str | None,
    *,
    error: str,
    code: str,
    timings: dict[str, float] | None = None,
) -> Job | None:
    """Mark failed and refund in full. `owner` None fails whatever holds it (admin, recovery)."""
    async with db.write() as conn:
        job = await _owned(conn, job_id, owner) if owner else await _get(conn, job_id)
        if job is None or job.is_final:
            return None
        return await _fail_in(conn, job, error=error, code=code, timings=timings)


async def requeue(
    db: Database, job_id: str, owner: str, *, reason: str, count_attempt: bool
) -> Job | None:
    """Give a job back to the queue: after a crash (counts), or on a clean shutdown (does not).

    A crashed job that used up its attempts fails and is refunded instead.
    """
    async with db.write() as conn:
        job = await _owned(conn, job_id, owner)
        if job is None:
            return None
        if count_attempt and job.attempts >= job.max_attempts:
            return await _fail_in(
                conn,
                job,
                error=f"rendering stopped {job.attempts} times ({reason}); credits refunded",
                code="worker_crashed",
            )
        now = time.time()
        await conn.execute(
            "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
            " attempts = attempts - ?, stage = '', progress = 0, updated_at = ?,"
            " render_ms = render_ms + ?, attempt_started_at = NULL WHERE id = ?",
            (0 if count_attempt else 1, now, _attempt_ms(job, now), job_id),
        )
        return await _get(conn, job_id)


async def cancel(db: Database, job_id: str, account_id: str | None) -> Job:
    """Cancel a queued or running job and refund it; a worker running it notices and stops."""
    async with db.write() as conn:
        job = await _get(conn, job_id)
        if job is None or (account_id is not None and job.account_id != account_id):
            raise NotFound(f"no job with id {job_id}")
        if job.is_final:
            raise Conflict(f"job {job_id} is already {job.status}")
        now = time.time()
        await ledger.settle_refund(
            conn, job.account_id, job.id, job.estimate, note="refund: canceled"
        )
        await conn.execute(
            "UPDATE jobs SET status = 'canceled', error = 'canceled by the user',"
            " error_code = 'canceled', lease_owner = NULL, lease_expires_at = NULL,"
            " finished_at = ?, updated_at = ? WHERE id = ?",
            (now, now, job_id),
        )
        job = await _get(conn, job_id)
        assert job is not None
        return job


async def recover_lapsed(db: Database) -> list[Job]:
    """Re-queue (or fail and refund) every job whose worker stopped renewing its lease.

    The lease is checked by the very statement that takes the job back: a heartbeat that
    lands a moment earlier keeps the job with its worker, one that lands later finds the
    job no longer its own and stops the render. No window lies between check and act.
    """
    recovered: list[Job] = []
    rows = await db.fetchall(
        "SELECT id FROM jobs WHERE status = 'processing' AND lease_expires_at < ?", (time.time(),)
    )
    for row in rows:
        async with db.write() as conn:
            now = time.time()
            cursor = await conn.execute(
                "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
                " stage = '', progress = 0, updated_at = ?, attempt_started_at = NULL,"
                # the attempt ended with its worker's last sign of life, not now
                " render_ms = render_ms + CAST(MAX(0, updated_at - COALESCE(attempt_started_at,"
                " updated_at)) * 1000 AS INTEGER)"
                " WHERE id = ? AND status = 'processing'"
                " AND lease_expires_at < ? AND attempts < max_attempts",
                (now, row["id"], now),
            )
            requeued = cursor.rowcount
            await cursor.close()
            if requeued:
                job = await _get(conn, row["id"])
                assert job is not None
                recovered.append(job)
                continue
            # Out of attempts? Inside the same write transaction, so no heartbeat can land
            # between this read of the lease and the refund decided on it.
            async with conn.execute(
                "SELECT * FROM jobs WHERE id = ? AND status = 'processing'"
                " AND lease_expires_at < ?",
                (row["id"], now),
            ) as lapsed:
                found = await lapsed.fetchone()
            if found is not None:
                job = Job.from_row(found)
                recovered.append(
                    await _fail_in(
                        conn,
                        job,
                        error=f"rendering stopped {job.attempts} times (the worker stopped); "
                        "credits refunded",
                        code="worker_crashed",
                        ended=job.updated_at,
                    )
                )
    return recovered


async def _fail_in(
    conn: aiosqlite.Connection,
    job: Job,
    *,
    error: str,
    code: str,
    timings: dict[str, float] | None = None,
    ended: float | None = None,
) -> Job:
    """Fail and refund; `ended`: when the attempt running stopped (default: now)."""
    now = time.time()
    await ledger.settle_refund(conn, job.account_id, job.id, job.estimate, note=f"refund: {code}")
    await conn.execute(
        "UPDATE jobs SET status = 'failed', error = ?, error_code = ?, charged = 0,"
        " timings = ?, finished_at = ?, updated_at = ?, execution_ms = ?,"
        " lease_owner = NULL, lease_expires_at = NULL WHERE id = ?",
        (
            error,
            code,
            json.dumps(timings if timings is not None else job.timings),
            now,
            now,
            _execution_ms(job, ended or now),
            job.id,
        ),
    )
    failed = await _get(conn, job.id)
    assert failed is not None
    return failed


async def _get(conn: aiosqlite.Connection, job_id: str) -> Job | None:
    async with conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)) as cursor:
        row = await cursor.fetchone()
    return Job.from_row(row) if row else None


async def _owned(conn: aiosqlite.Connection, job_id: str, owner: str) -> Job | None:
    async with conn.execute(
        "SELECT * FROM jobs WHERE id = ? AND lease_owner = ? AND status = 'processing'",
        (job_id, owner),
    ) as cursor:
        row = await cursor.fetchone()
    return Job.from_row(row) if row else None


def _execution_ms(job: Job, end: float) -> int | None:
    """The time this job's renders took: every attempt's, from its claim to its end. The
    time it waited in the queue (before, or between attempts after a restart) is left out."""
    return job.render_ms + _attempt_ms(job, end) if job.started_at else None


def _attempt_ms(job: Job, end: float) -> int:
    """How long the attempt running now has taken by `end` (0 when none is running)."""
    if job.attempt_started_at is None:
        return 0
    return max(0, int((end - job.attempt_started_at) * 1000))
