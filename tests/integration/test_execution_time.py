"""`execution_ms` (the API's `executionTime`) is the time a job's renders took, not the wall
clock since it first started: a job put back in the queue by a restart does not count the
time it waited there. Real SQLite, real render processes (scripted renders)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from engine import jobs
from engine.config import Settings
from engine.job_request import JobRequest
from engine.service import Service

DOWNTIME = 3.0


def sleeping_job(picture: Path, tone: Path, seconds: float) -> JobRequest:
    return JobRequest(
        model="lipsync-image",
        inputs={"image": str(picture), "audio": str(tone)},
        params={"prompt": f"sleep:{seconds}"},
    )


async def test_a_job_requeued_by_a_clean_stop_does_not_count_the_time_it_waited(
    settings: Settings, picture: Path, tone: Path
) -> None:
    service = await Service.open(settings)
    account = (await service.create_api_key("k", 100, plan="pro")).key.account_id
    job = await service.submit(
        account, sleeping_job(picture, tone, 3.0), local_dirs=[picture.parent]
    )
    await service.start_workers()
    while (await service.get_job(job.id)).status != "processing":
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.0)  # rendering for a second
    await service.close()  # the clean stop: back to the queue, no attempt used

    requeued = await (reopened := await Service.open(settings)).get_job(job.id)
    assert requeued.status == "queued" and requeued.attempts == 0
    assert requeued.execution_ms is None and requeued.attempt_started_at is None
    assert 900 <= requeued.render_ms < 2500  # the interrupted attempt's time is kept
    await asyncio.sleep(DOWNTIME)  # the service is down; the job waits

    try:
        await reopened.start_workers()
        done = await reopened.wait(job.id, timeout=60)
    finally:
        await reopened.close()
    assert done.status == "completed", done.error
    assert done.started_at is not None and done.finished_at is not None
    wall_ms = (done.finished_at - done.started_at) * 1000
    assert wall_ms > DOWNTIME * 1000 + 1000
    assert done.execution_ms is not None
    # Both attempts' renders (the first ~1 s, the second ~3 s), not the downtime.
    assert requeued.render_ms + 3000 <= done.execution_ms < wall_ms - DOWNTIME * 1000 + 500


async def test_a_lapsed_attempt_counts_until_its_worker_last_reported(
    service: Service, picture: Path, tone: Path
) -> None:
    """A worker that died: its attempt ended at its last heartbeat, not when it was noticed."""
    account = (await service.create_api_key("k", 100, plan="pro")).key.account_id
    job = await service.submit(account, sleeping_job(picture, tone, 0), local_dirs=[picture.parent])
    claimed = await jobs.claim(service.db, "gone-worker", [job.model], lease_seconds=30)
    assert claimed is not None and claimed.attempt_started_at is not None
    started = claimed.attempt_started_at
    async with service.db.write() as conn:  # last heartbeat 2 s in, noticed 60 s later
        await conn.execute(
            "UPDATE jobs SET updated_at = ?, lease_expires_at = ? WHERE id = ?",
            (started + 2.0, time.time() - 1, job.id),
        )
    (back,) = await jobs.recover_lapsed(service.db)
    assert back.status == "queued" and back.attempt_started_at is None
    assert 1990 <= back.render_ms <= 2000
