"""The queue and ledger through real SQLite files and real spawned worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import jobs
from engine.config import Settings
from engine.errors import InsufficientCredits
from engine.job_request import JobRequest
from engine.service import Service
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]


def image_job(picture: Path, tone: Path, prompt: str = "", **params: object) -> JobRequest:
    return JobRequest(
        model="lipsync-image",
        inputs={"image": str(picture), "audio": str(tone)},
        params={"prompt": prompt, **params},
    )


async def account_with(service: Service, credits: int) -> str:
    # The pro plan's 300 submissions a minute: these tests race the ledger, not the limiter.
    new = await service.create_api_key("test", credits, plan="pro")
    return new.key.account_id


async def wait_status(service: Service, job_id: str, statuses: set[str], timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = await service.get_job(job_id)
        if job.status in statuses:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {job.status}")


async def ledger_of(service: Service, account_id: str) -> list:
    return list(reversed(await service.ledger_entries(account_id, limit=500)))


async def test_fifty_concurrent_submissions_accept_exactly_what_the_balance_covers(
    settings: Settings, picture: Path, tone: Path
) -> None:
    # Two Service instances = two connections racing on one SQLite file.
    first, second = await Service.open(settings), await Service.open(settings)
    try:
        account = await account_with(first, 10 * 20)  # 3 s at 720p = 20 credits; ten jobs
        request = image_job(picture, tone, resolution="720p")

        async def submit(svc: Service) -> str:
            try:
                await svc.submit(account, request, local_dirs=[picture.parent])
                return "accepted"
            except InsufficientCredits:
                return "refused"

        results = await asyncio.gather(*(submit(first if i % 2 else second) for i in range(50)))
        assert results.count("accepted") == 10
        assert results.count("refused") == 40
        entries = await ledger_of(first, account)
        assert min(e.balance_after for e in entries) >= 0
        assert (await first.get_account(account)).balance == 0
        assert sum(e.amount for e in entries) == 0
        assert len(await first.list_jobs(account, limit=200)) == 10
    finally:
        await first.close()
        await second.close()


async def test_a_submit_returns_its_job_while_an_older_read_is_still_open(
    service: Service, picture: Path, tone: Path
) -> None:
    """Reads share one connection, and a statement still open on it (another request
    paging through jobs) keeps the snapshot it started in, which has no new job: the
    submit must not answer "no job with id ..." for a job it queued and holds credits for
    (seen once under load with 50 racing submissions)."""
    account = await account_with(service, 100)
    request = image_job(picture, tone, resolution="480p")
    for _ in range(2):
        await service.submit(account, request, local_dirs=[picture.parent])
    reader = service.db._reader  # the reads' connection, held mid-statement on purpose
    async with reader.execute("SELECT id FROM jobs") as open_read:
        assert await open_read.fetchone() is not None  # one row read, more to come
        job = await service.submit(account, request, local_dirs=[picture.parent])
    assert job.status == "queued" and job.estimate == 10
    assert len(await service.list_jobs(account)) == 3


async def test_completed_job_is_charged_once_at_the_seed_price(
    service: Service, picture: Path, tone: Path
) -> None:
    account = await account_with(service, 100)
    job = await service.submit(
        account, image_job(picture, tone, resolution="720p"), local_dirs=[picture.parent]
    )
    assert job.estimate == 20
    await service.start_workers()
    done = await service.wait(job.id, timeout=60)
    assert done.status == "completed", done.error
    assert done.charged == 20
    assert done.execution_ms is not None and done.timings.get("rendering") is not None
    assert (await service.get_account(account)).balance == 80
    kinds = [e.kind for e in await ledger_of(service, account) if e.job_id == job.id]
    assert kinds == ["reserve", "charge"]
    assert service.output_path(done).is_file()


async def test_failed_job_is_refunded_in_full(service: Service, picture: Path, tone: Path) -> None:
    account = await account_with(service, 50)
    job = await service.submit(
        account, image_job(picture, tone, "fail"), local_dirs=[picture.parent]
    )
    assert (await service.get_account(account)).balance == 40
    await service.start_workers()
    failed = await service.wait(job.id, timeout=60)
    assert failed.status == "failed"
    assert failed.error == "scripted failure: the audio is unusable"
    assert failed.error_code == "invalid_media"
    assert (await service.get_account(account)).balance == 50
    kinds = [e.kind for e in await ledger_of(service, account) if e.job_id == job.id]
    assert kinds == ["reserve", "refund"]


async def test_unexpected_crash_fails_with_a_generic_message_and_refunds(
    service: Service, picture: Path, tone: Path
) -> None:
    account = await account_with(service, 50)
    job = await service.submit(
        account, image_job(picture, tone, "crash"), local_dirs=[picture.parent]
    )
    await service.start_workers()
    failed = await service.wait(job.id, timeout=60)
    assert failed.status == "failed"
    assert "unexpectedly" in failed.error and "Traceback" not in failed.error
    assert (await service.get_account(account)).balance == 50


async def test_a_render_process_that_keeps_dying_fails_after_max_attempts(
    service: Service, picture: Path, tone: Path
) -> None:
    account = await account_with(service, 50)
    job = await service.submit(
        account, image_job(picture, tone, "die"), local_dirs=[picture.parent]
    )
    await service.start_workers()
    failed = await service.wait(job.id, timeout=90)
    assert failed.status == "failed"
    assert failed.attempts == service.settings.workers.max_attempts
    assert failed.error_code == "worker_crashed"
    assert (await service.get_account(account)).balance == 50


async def test_a_stopped_render_is_killed_retried_and_then_refunded(
    tmp_path: Path, picture: Path, tone: Path
) -> None:
    """The lease is renewed by the pool, so only the progress watch can see a stopped render."""
    settings = make_settings(tmp_path / "d", workers={"stall_seconds": 1.0, "max_attempts": 2})
    service = await Service.open(settings)
    try:
        account = await account_with(service, 50)
        stuck = await service.submit(
            account, image_job(picture, tone, "stop"), local_dirs=[picture.parent]
        )
        after = await service.submit(account, image_job(picture, tone), local_dirs=[picture.parent])
        await service.start_workers()
        failed = await service.wait(stuck.id, timeout=60)
        assert failed.status == "failed" and failed.error_code == "worker_crashed"
        assert failed.attempts == 2 and "no progress for 1 s" in failed.error
        done = await service.wait(after.id, timeout=60)  # the slot's new process works
        assert done.status == "completed"
        assert (await service.get_account(account)).balance == 40
    finally:
        await service.close()


async def test_a_hung_render_and_an_endless_one_end_refunded(
    tmp_path: Path, picture: Path, tone: Path
) -> None:
    settings = make_settings(
        tmp_path / "d",
        workers={"stall_seconds": 1.0, "max_attempts": 1, "wall_clock_per_output_second": 0.5},
    )
    service = await Service.open(settings)
    try:
        account = await account_with(service, 50)
        hung = await service.submit(
            account, image_job(picture, tone, "hang"), local_dirs=[picture.parent]
        )
        # Reports progress all along, but 3 s of output may take 1 + 0.5 x 3 = 2.5 s.
        endless = await service.submit(
            account, image_job(picture, tone, "sleep:30"), local_dirs=[picture.parent]
        )
        await service.start_workers()
        hung_end = await service.wait(hung.id, timeout=60)
        endless_end = await service.wait(endless.id, timeout=60)
        assert hung_end.status == "failed" and hung_end.error_code == "worker_crashed"
        assert endless_end.status == "failed" and endless_end.error_code == "render_timeout"
        assert "longer than 2 s" in endless_end.error and endless_end.progress < 0.3
        assert (await service.get_account(account)).balance == 50
        assert list(service.storage.root.joinpath("outputs").iterdir()) == []
    finally:
        await service.close()


async def test_a_render_that_dies_midway_leaves_no_file_to_serve(
    service: Service, picture: Path, tone: Path
) -> None:
    account = await account_with(service, 50)
    job = await service.submit(
        account, image_job(picture, tone, "die-midway"), local_dirs=[picture.parent]
    )
    await service.start_workers()
    failed = await service.wait(job.id, timeout=90)
    assert failed.status == "failed" and failed.output is None
    assert list(service.storage.root.joinpath("outputs").iterdir()) == []
    assert list(service.storage.root.joinpath("work").iterdir()) == []


async def test_cancel_running_job_refunds_and_the_slot_keeps_working(
    service: Service, picture: Path, tone: Path
) -> None:
    account = await account_with(service, 100)
    await service.start_workers()
    slow = await service.submit(
        account, image_job(picture, tone, "sleep:20"), local_dirs=[picture.parent]
    )
    await wait_status(service, slow.id, {"processing"})
    canceled = await service.cancel(slow.id, account_id=account)
    assert canceled.status == "canceled"
    quick = await service.submit(account, image_job(picture, tone), local_dirs=[picture.parent])
    done = await service.wait(quick.id, timeout=30)
    assert done.status == "completed"
    assert (await service.get_account(account)).balance == 100 - 10
    assert (await service.get_job(slow.id)).status == "canceled"


async def test_restart_keeps_queued_jobs(settings: Settings, picture: Path, tone: Path) -> None:
    service = await Service.open(settings)
    account = await account_with(service, 100)
    ids = [
        (await service.submit(account, image_job(picture, tone), local_dirs=[picture.parent])).id
        for _ in range(3)
    ]
    await service.close()

    reopened = await Service.open(settings)
    try:
        assert {(await reopened.get_job(i)).status for i in ids} == {"queued"}
        await reopened.start_workers()
        for job_id in ids:
            assert (await reopened.wait(job_id, timeout=60)).status == "completed"
    finally:
        await reopened.close()


async def test_clean_shutdown_puts_running_jobs_back_without_using_an_attempt(
    settings: Settings, picture: Path, tone: Path
) -> None:
    service = await Service.open(settings)
    account = await account_with(service, 100)
    await service.start_workers()
    job = await service.submit(
        account, image_job(picture, tone, "sleep:20"), local_dirs=[picture.parent]
    )
    await wait_status(service, job.id, {"processing"})
    await service.close()

    reopened = await Service.open(settings)
    try:
        requeued = await reopened.get_job(job.id)
        assert requeued.status == "queued"
        assert requeued.attempts == 0
        assert (await reopened.get_account(account)).balance == 90  # still held, not lost
    finally:
        await reopened.close()


def _worker_process(data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LIPSYNC_DATA_DIR": str(data_dir),
        "LIPSYNC_WORKERS_PLUGINS": "tests.support.scripted_handlers",
        "LIPSYNC_WORKERS_LEASE_SECONDS": "3",
        "LIPSYNC_WORKERS_HEARTBEAT_SECONDS": "0.5",
        "LIPSYNC_WORKERS_POLL_SECONDS": "0.05",
        "PYTHONPATH": str(REPO),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "worker", "--workers", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def test_worker_killed_with_sigkill_mid_job_is_rerun_and_charged_once(
    tmp_path: Path, picture: Path, tone: Path
) -> None:
    settings = make_settings(tmp_path / "data")
    service = await Service.open(settings)
    try:
        account = await account_with(service, 100)
        job = await service.submit(
            account, image_job(picture, tone, "sleep:2"), local_dirs=[picture.parent]
        )
        worker = _worker_process(settings.data_path)
        try:
            running = await wait_status(service, job.id, {"processing"}, timeout=120)
            assert running.attempts == 1
            await asyncio.sleep(0.5)
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        finally:
            worker.kill()
        assert (await service.get_job(job.id)).status == "processing"  # lease still held

        await service.start_workers()  # a survivor notices the lapsed lease and re-runs it
        done = await service.wait(job.id, timeout=60)
        assert done.status == "completed"
        assert done.attempts == 2
        entries = [e for e in await ledger_of(service, account) if e.job_id == job.id]
        assert [e.kind for e in entries] == ["reserve", "charge"]
        assert (await service.get_account(account)).balance == 90
    finally:
        await service.close()


@pytest.mark.parametrize("credits", [9])
async def test_too_few_credits_leaves_no_job_and_no_files(
    service: Service, picture: Path, tone: Path, credits: int
) -> None:
    account = await account_with(service, credits)
    with pytest.raises(InsufficientCredits, match="costs 10 credits but the balance is 9"):
        await service.submit(account, image_job(picture, tone), local_dirs=[picture.parent])
    assert await service.list_jobs(account) == []
    assert list((service.storage.root / "inputs").iterdir()) == []
    assert (await service.get_account(account)).balance == 9


async def _lapse(service: Service, picture: Path, tone: Path, attempts: int) -> tuple[str, str]:
    """A job claimed by a worker that has gone quiet: its lease is in the past."""
    account = await account_with(service, 100)
    job = await service.submit(account, image_job(picture, tone), local_dirs=[picture.parent])
    claimed = await jobs.claim(service.db, "gone-worker", [job.model], lease_seconds=30)
    assert claimed is not None and claimed.id == job.id
    async with service.db.write() as conn:
        await conn.execute(
            "UPDATE jobs SET lease_expires_at = ?, attempts = ? WHERE id = ?",
            (time.time() - 1, attempts, job.id),
        )
    return account, job.id


async def test_a_heartbeat_landing_while_lapsed_leases_are_looked_up_keeps_the_job(
    service: Service, picture: Path, tone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account, job_id = await _lapse(service, picture, tone, attempts=1)
    fetchall = service.db.fetchall

    async def then_a_heartbeat(*args, **kwargs):  # type: ignore[no-untyped-def]
        rows = await fetchall(*args, **kwargs)
        assert await jobs.heartbeat(service.db, job_id, "gone-worker", 30)  # it was not gone
        return rows

    monkeypatch.setattr(service.db, "fetchall", then_a_heartbeat)
    assert await jobs.recover_lapsed(service.db) == []
    kept = await service.get_job(job_id)
    assert kept.status == "processing" and kept.attempts == 1
    assert (await service.get_account(account)).balance == 90


async def test_a_lapsed_lease_requeues_or_when_out_of_attempts_fails_and_refunds(
    service: Service, picture: Path, tone: Path
) -> None:
    other, last_try = await _lapse(service, picture, tone, attempts=99)
    (failed,) = await jobs.recover_lapsed(service.db)
    assert failed.id == last_try and failed.status == "failed"
    assert "credits refunded" in (failed.error or "")
    assert (await service.get_account(other)).balance == 100

    account, job_id = await _lapse(service, picture, tone, attempts=1)
    (back,) = await jobs.recover_lapsed(service.db)
    assert back.id == job_id and back.status == "queued" and back.attempts == 1
    assert (await service.get_account(account)).balance == 90  # still held for the rerun


async def test_every_process_that_renders_sweeps_files_past_their_retention(
    service: Service,
) -> None:
    uploads = service.storage.root / "uploads"
    old, fresh = uploads / "old.wav", uploads / "fresh.wav"
    for path in (old, fresh):
        path.write_bytes(b"RIFF")
    week_ago = time.time() - service.settings.retention_days * 86400 - 60
    os.utime(old, (week_ago, week_ago))
    await service.start_workers(1)  # as `serve`, `worker` and the bots do
    deadline = time.monotonic() + 30
    while old.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not old.exists() and fresh.exists()
