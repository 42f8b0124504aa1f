"""`make bench` section "ray": the same jobs through the local and the Ray executor.

Both run on this machine with one slot, so the difference is the executor's own cost:
handing the job to an actor through Ray's object store (inputs as bytes in, the MP4's bytes
out) against a warm spawned process that reads the files itself. Two loads:

    no-op     the scripted handler (no render): the per-job cost of the path alone
    render    a real portrait render (a face photo, 3 s of speech, 480p)

Per-job overhead = the job's execution time (claim to completion, from the jobs table)
minus the handler's own `total`; jobs per minute = jobs / wall time from the pool's start
to the last completion, every job queued beforehand. The Ray runtime is started by the
executor itself (`workers.ray_address = ""`), outside the timed part.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from engine.job_request import JobRequest
from engine.service import Service

NOOP_JOBS = 100
RENDER_JOBS = 6


async def _run(
    root: Path, executor: str, plugins: list[str], request: JobRequest, n: int
) -> tuple[float, float]:
    """Jobs per minute and median per-job overhead (seconds) of n jobs through `executor`."""
    from scripts.bench import bench_settings

    settings = bench_settings(
        root / f"{executor}-{len(plugins)}",
        workers={
            "count": 1,
            "poll_seconds": 0.01,
            "plugins": plugins,
            "executor": executor,
            "ray_num_cpus": 1,
        },
    )
    service = await Service.open(settings)
    try:
        new = await service.create_api_key("bench", 100 * n, plan="pro")  # 300 jobs a minute
        folders = [Path(p).parent for p in request.inputs.values()]
        ids = [
            (await service.submit(new.key.account_id, request, local_dirs=folders)).id
            for _ in range(n)
        ]
        await service.start_workers()
        started = time.perf_counter()
        overheads = []
        for job_id in ids:
            job = await service.wait(job_id, timeout=600, poll_seconds=0.01)
            assert job.status == "completed", job.error
            overheads.append((job.execution_ms or 0) / 1000 - job.timings["total"])
        wall = time.perf_counter() - started
    finally:
        await service.close()
    return n / wall * 60, statistics.median(overheads)


async def ray_vs_local(root: Path) -> None:
    from scripts.bench import _long_voice
    from tests.support.media import face_photo_path, write_png, write_tone_wav

    picture, tone = write_png(root / "rp.png"), write_tone_wav(root / "rt.wav", 1.0)
    noop = JobRequest(model="lipsync-image", inputs={"image": str(picture), "audio": str(tone)})
    voice = _long_voice(root, 3.0)
    render = JobRequest(
        model="lipsync-image",
        inputs={"image": str(face_photo_path()), "audio": str(voice)},
        params={"resolution": "480p"},
    )
    loads = (
        ("no-op ", ["tests.support.scripted_handlers"], noop, NOOP_JOBS),
        ("render", [], render, RENDER_JOBS),
    )
    for label, plugins, request, n in loads:
        for executor in ("local", "ray"):
            per_minute, overhead = await _run(root, executor, plugins, request, n)
            print(
                f"ray    {label} {executor:>5}: {per_minute:6.1f} jobs/min, per-job overhead "
                f"{overhead * 1000:6.0f} ms (median of {n}, 1 slot)"
            )
