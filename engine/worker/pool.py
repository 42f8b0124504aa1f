"""The worker pool: asyncio slots that claim jobs and drive one renderer each.

The event loop only does bookkeeping (claim, heartbeat, settle); the rendering happens in
the slot's renderer (a spawned process here, or a Ray actor on a cluster: see
`engine/worker/executor.py`), so the API served from the same loop stays responsive. Every
pool also sweeps for lapsed leases, so jobs of a worker that died (kill -9, power cut) are
re-run by whichever pool is alive, up to `workers.max_attempts`, then failed and refunded.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import shutil
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from engine import jobs, pricing
from engine.config import Settings
from engine.db import Database
from engine.errors import ConfigError
from engine.jobs import Job
from engine.lipsync.neural import check_backend
from engine.storage import Storage
from engine.vocabulary import Model, Stage
from engine.worker.executor import Executor, RenderDied, Renderer, make_executor

log = logging.getLogger("lipsync.worker")
RETENTION_INTERVAL = 3600.0
RESTART_PAUSE = 5.0  # between tries to start a slot's renderer that would not start

JobListener = Callable[[Job], Awaitable[None]]
Verdict = Literal["lost", "stalled", "overtime"]


def check_plugins(plugins: list[str]) -> None:
    """Refuse to start with a plugin that cannot be imported (every renderer would die)."""
    for module in plugins:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise ConfigError(f"workers.plugins: cannot import the module '{module}'")


@dataclass
class RenderWatch:
    """What the parent knows of a render in flight: its progress, and whether to stop it.

    `verdict` says why the pool killed the render: "lost" (the job is no longer ours),
    "stalled" (progress stood still for `stall_seconds`) or "overtime" (it ran past its wall
    clock); None when the render died on its own (a crash, a killed actor, a lost node).
    """

    stall_seconds: float
    wall_clock_seconds: float
    stage: str = Stage.STARTING
    fraction: float = 0.0
    dirty: bool = False
    verdict: Verdict | None = None
    started: float = field(default_factory=time.monotonic)
    last_move: float = field(default_factory=time.monotonic)

    def moved(self, stage: str, fraction: float) -> None:
        if (stage, fraction) != (self.stage, self.fraction):
            self.last_move = time.monotonic()
        self.stage, self.fraction, self.dirty = stage, fraction, True

    def judge(self) -> Verdict | None:
        now = time.monotonic()
        if now - self.started > self.wall_clock_seconds:
            return "overtime"
        if now - self.last_move > self.stall_seconds:
            return "stalled"
        return None


def _no_output(data: dict) -> dict:
    """A handler that said done without writing its file: a bug, reported as a failed job."""
    return {
        "code": "render_error",
        "message": "the render finished without producing a video",
        "user_error": False,
        "timings": data.get("timings", {}),
    }


class WorkerPool:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        settings: Settings,
        *,
        slots: int | None = None,
        models: list[str] | None = None,
        on_update: JobListener | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.settings = settings
        self.slots = slots or settings.worker_count
        self.models = models or list(Model)
        self.on_update = on_update
        self.name = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._renderers: list[Renderer | None] = []  # None: to be restarted
        self._executor: Executor | None = None

    @property
    def renderers(self) -> list[Renderer]:
        """The slots' renderers now (a slot gets a fresh one after a render died)."""
        return [r for r in self._renderers if r is not None]

    async def start(self) -> None:
        check_plugins(self.settings.workers.plugins)
        check_backend(self.settings)
        self._executor = make_executor(self.settings)
        await self._executor.open()
        try:
            fresh = [self._executor.renderer() for _ in range(self.slots)]
            self._renderers = list(fresh)
            await asyncio.gather(*(r.start() for r in fresh))
        except BaseException:
            await asyncio.gather(*(r.close() for r in self.renderers), return_exceptions=True)
            await self._executor.close()
            self._renderers, self._executor = [], None
            raise
        self._tasks = [
            asyncio.create_task(self._slot_loop(i), name=f"slot-{i}") for i in range(self.slots)
        ]
        self._tasks.append(asyncio.create_task(self._recovery_loop(), name="recovery"))
        self._tasks.append(asyncio.create_task(self._retention_loop(), name="retention"))
        log.info(
            "worker pool %s started with %d %s renderers",
            self.name,
            self.slots,
            self.settings.workers.executor,
        )

    async def stop(self) -> None:
        """Stop taking jobs; jobs in flight go back to the queue without using an attempt."""
        self._stop.set()
        for renderer in self.renderers:
            renderer.kill()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(r.close() for r in self.renderers), return_exceptions=True)
        self._tasks.clear()
        if self._executor is not None:
            await self._executor.close()
            self._executor = None

    async def _slot_loop(self, index: int) -> None:
        owner = f"{self.name}:{index}"
        while not self._stop.is_set():
            if self._renderers[index] is None and not await self._restart(index):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), RESTART_PAUSE)
                continue
            try:
                job = await jobs.claim(
                    self.db, owner, self.models, self.settings.workers.lease_seconds
                )
            except Exception:
                log.exception("claim failed")
                job = None
            if job is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.settings.workers.poll_seconds)
                continue
            await self._notify(job)
            try:
                await self._run_job(index, owner, job)
            except Exception:
                log.exception("job %s: bookkeeping failed", job.id)

    async def _run_job(self, index: int, owner: str, job: Job) -> None:
        renderer = self._renderers[index]
        assert renderer is not None
        output_name = self.storage.new_output_name()
        output_path = self.storage.output_path(output_name)
        work_dir = self.storage.work_dir(job.id)
        # The render writes in its scratch folder; only a finished file is moved to the
        # served outputs, so a killed or failed render never leaves a broken MP4 there.
        rendered = work_dir / f"render{output_path.suffix}"
        payload = {
            "id": job.id,
            "model": job.model,
            "params": job.params,
            "inputs": {role: str(self.storage.root / rel) for role, rel in job.inputs.items()},
            "work_dir": str(work_dir),
            "output_path": str(rendered),
            "max_output_seconds": job.estimate_seconds,
        }
        workers = self.settings.workers
        watch = RenderWatch(
            stall_seconds=workers.stall_seconds,
            wall_clock_seconds=workers.stall_seconds
            + workers.wall_clock_per_output_second * job.estimate_seconds,
        )
        beat = asyncio.create_task(self._heartbeat(job, owner, watch, renderer))
        died = False
        try:
            kind, data = await renderer.run(payload, watch.moved)
            if kind == "done":
                if rendered.is_file():
                    rendered.replace(output_path)
                else:
                    kind, data = "error", _no_output(data)
        except RenderDied as exc:
            log.info("job %s: the render on %s died (%s)", job.id, renderer.where, exc)
            died = True
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            shutil.rmtree(work_dir, ignore_errors=True)  # before anyone hears the job ended
        if died:
            await self._after_render_death(index, owner, job, watch)
            return

        if kind == "done":
            await self._finish(owner, job, output_name, data)
        else:
            failed = await jobs.fail(
                self.db,
                job.id,
                owner,
                error=data["message"],
                code=data["code"],
                timings=data["timings"],
            )
            if failed is not None:
                await self._notify(failed)

    async def _finish(self, owner: str, job: Job, output_name: str, data: dict) -> None:
        seconds = float(data["output_seconds"])
        quote = pricing.quote(seconds, job.params["resolution"], self.settings.pricing)
        done = await jobs.complete(
            self.db,
            job.id,
            owner,
            output=output_name,
            output_seconds=seconds,
            price=quote.credits,
            timings=data["timings"],
        )
        if done is None:  # canceled or taken over while we rendered: nobody pays for it
            self.storage.output_path(output_name).unlink(missing_ok=True)
            return
        await self._notify(done)

    async def _after_render_death(
        self, index: int, owner: str, job: Job, watch: RenderWatch
    ) -> None:
        if self._stop.is_set():
            requeued = await jobs.requeue(
                self.db, job.id, owner, reason="shutdown", count_attempt=False
            )
        elif watch.verdict == "lost":
            requeued = None  # canceled, or another worker has it: we killed our own render
        elif watch.verdict == "overtime":
            log.warning(
                "job %s: render ran past %.0f s; failing it", job.id, watch.wall_clock_seconds
            )
            requeued = await jobs.fail(
                self.db,
                job.id,
                owner,
                error=f"rendering took longer than {watch.wall_clock_seconds:.0f} s, the limit for "
                f"{job.estimate_seconds:.0f} s of video; credits refunded",
                code="render_timeout",
            )
        else:
            reason = (
                f"the render made no progress for {watch.stall_seconds:.0f} s"
                if watch.verdict == "stalled"
                else "the render process died"
            )
            log.warning("job %s: %s; re-queueing", job.id, reason)
            requeued = await jobs.requeue(self.db, job.id, owner, reason=reason, count_attempt=True)
        if requeued is not None:
            await self._notify(requeued)
        dead = self._renderers[index]
        self._renderers[index] = None  # the slot starts a fresh one before its next claim
        if dead is not None:
            await dead.close()

    async def _restart(self, index: int) -> bool:
        """Give the slot a fresh renderer; False (logged) when it cannot start now, such as
        a cluster that lost the node and has no room left for another actor. The slot then
        claims nothing until it can render, instead of spending jobs' attempts."""
        assert self._executor is not None
        renderer = self._executor.renderer()
        self._renderers[index] = renderer
        try:
            await renderer.start()
            return True
        except Exception as exc:
            if not self._stop.is_set():  # killed by `stop` while starting: expected
                log.warning("slot %d: cannot start a renderer (%s); trying again", index, exc)
            self._renderers[index] = None
            await renderer.close()
            return False

    async def _heartbeat(
        self, job: Job, owner: str, watch: RenderWatch, renderer: Renderer
    ) -> None:
        """Renew the lease and report progress; kill the render if the job is lost, if its
        progress stands still for `stall_seconds`, or if it runs past its wall clock.

        A new stage is written within a fifth of a second (waiters show it), a new
        percentage at most once a second (it changes constantly), and the lease is renewed
        every `heartbeat_seconds` even when nothing changed. The lease alone proves only
        that this loop is alive, not the render: hence the progress watch.
        """
        tick = min(0.2, self.settings.workers.heartbeat_seconds)
        last_write = time.monotonic()
        written_stage = ""
        while True:
            await asyncio.sleep(tick)
            verdict = watch.judge()
            if verdict is not None:
                watch.verdict = verdict
                renderer.kill()
                return
            since = time.monotonic() - last_write
            due = since >= self.settings.workers.heartbeat_seconds
            new_stage = watch.stage != written_stage
            if not (due or new_stage or (watch.dirty and since >= 1.0)):
                continue
            watch.dirty = False
            written_stage = watch.stage
            ours = await jobs.heartbeat(
                self.db,
                job.id,
                owner,
                self.settings.workers.lease_seconds,
                stage=watch.stage,
                progress=watch.fraction,
            )
            last_write = time.monotonic()
            if not ours:
                log.info("job %s is no longer ours (canceled or re-queued); stopping", job.id)
                watch.verdict = "lost"
                renderer.kill()
                return

    async def _recovery_loop(self) -> None:
        interval = max(1.0, self.settings.workers.lease_seconds / 3)
        while not self._stop.is_set():
            try:
                for job in await jobs.recover_lapsed(self.db):
                    log.warning("job %s: lease lapsed; now %s", job.id, job.status)
                    await self._notify(job)
            except Exception:
                log.exception("lease recovery failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval)

    async def _retention_loop(self) -> None:
        """Delete files past `retention_days`, hourly, in every process that renders: the
        process that makes files also keeps their number bounded, whichever door runs it."""
        retention = self.settings.retention_days * 86400
        while not self._stop.is_set():
            try:
                removed = await asyncio.to_thread(self.storage.sweep, retention)
                if removed:
                    log.info("retention: removed %d old files", removed)
            except Exception:
                log.exception("retention sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), RETENTION_INTERVAL)

    async def _notify(self, job: Job) -> None:
        if self.on_update is not None:
            try:
                await self.on_update(job)
            except Exception:
                log.exception("job listener failed for %s", job.id)
