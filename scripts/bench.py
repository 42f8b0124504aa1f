"""`make bench`: the figures that matter, printed (never asserted in tests).

    python -m scripts.bench              every section
    python -m scripts.bench queue ledger only those

Sections register themselves in SECTIONS; each prints its own lines.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from engine import ledger
from engine.config import Settings, load_settings
from engine.requests import JobRequest
from engine.service import Service

SECTIONS: dict[str, Callable[[Path], Awaitable[None]]] = {}


def section(name: str) -> Callable:
    def register(fn: Callable[[Path], Awaitable[None]]) -> Callable[[Path], Awaitable[None]]:
        SECTIONS[name] = fn
        return fn

    return register


def bench_settings(root: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {"data_dir": str(root / "data")}
    base.update(overrides)
    return load_settings(path=None, env={}, overrides=base)


@section("queue")
async def queue_throughput(root: Path) -> None:
    from tests.support.media import write_png, write_tone_wav

    jobs_n = 200
    picture = write_png(root / "p.png")
    tone = write_tone_wav(root / "t.wav", 1.0)
    for slots in (1, 2):
        settings = bench_settings(
            root / f"q{slots}",
            workers={
                "count": slots,
                "poll_seconds": 0.01,
                "plugins": ["tests.support.scripted_handlers"],
            },
        )
        service = await Service.open(settings)
        try:
            account = (await service.create_api_key("bench", 10 * jobs_n)).key.account_id
            request = JobRequest(
                model="lipsync-image", inputs={"image": str(picture), "audio": str(tone)}
            )
            started = time.perf_counter()
            ids = []
            for _ in range(jobs_n):
                ids.append((await service.submit(account, request, local_dirs=[root])).id)
            submitted = time.perf_counter() - started
            await service.start_workers()
            run_started = time.perf_counter()
            for job_id in ids:
                job = await service.wait(job_id, timeout=300, poll_seconds=0.01)
                assert job.status == "completed", job.error
            completed = time.perf_counter() - run_started
        finally:
            await service.close()
        print(
            f"queue  {slots} worker(s): submit {jobs_n / submitted:7.1f} jobs/s "
            f"(fetch+probe+reserve), complete {jobs_n / completed:7.1f} jobs/s "
            "(claim+run no-op+charge)"
        )


@section("ledger")
async def ledger_ops(root: Path) -> None:
    settings = bench_settings(root / "ledger")
    service = await Service.open(settings)
    try:
        account = (await service.create_api_key("bench", 10**9)).key.account_id
        n = 2000
        started = time.perf_counter()
        for i in range(n):
            async with service.db.write() as conn:
                await ledger.reserve(conn, account, f"job-{i}", 10)
            async with service.db.write() as conn:
                await ledger.settle_charge(conn, account, f"job-{i}", 10, 8)
        elapsed = time.perf_counter() - started
        print(
            f"ledger {2 * n / elapsed:7.0f} entries/s (each its own transaction, WAL, "
            "synchronous=NORMAL)"
        )
    finally:
        await service.close()


async def main(names: list[str]) -> None:
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        sys.exit(f"unknown section {unknown[0]}; choose from {', '.join(SECTIONS)}")
    with tempfile.TemporaryDirectory(prefix="lipsync-bench-") as tmp:
        for name in names or list(SECTIONS):
            await SECTIONS[name](Path(tmp))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
