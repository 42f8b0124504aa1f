"""The worker pool: asyncio slots that claim jobs and drive one render process each.

The event loop only does bookkeeping (claim, heartbeat, settle); the rendering happens in
the slot's spawned process, so the API served from the same loop stays responsive. Every
pool also sweeps for lapsed leases, so jobs of a worker that died (kill -9, power cut) are
re-run by whichever pool is alive, up to `workers.max_attempts`, then failed and refunded.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import multiprocessing
import os
import shutil
import socket
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from engine import jobs, pricing
from engine.config import Settings
from engine.db import Database
from engine.errors import ConfigError
from engine.jobs import Job
from engine.storage import Storage
from engine.worker.child import child_main

log = logging.getLogger("lipsync.worker")

READY_TIMEOUT = 180.0
Progress = Callable[[str, float], None]
JobListener = Callable[[Job], Awaitable[None]]


def check_plugins(plugins: list[str]) -> None:
    """Refuse to start with a plugin that cannot be imported (the children would die)."""
    for module in plugins:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise ConfigError(f"workers.plugins: cannot import the module '{module}'")


class ChildDied(Exception):
    """The render process exited (crash, kill, out of memory) before it answered."""


class RenderProcess:
    """One warm spawned render process and the pipe to it."""

    def __init__(self, settings_data: dict[str, Any]) -> None:
        self._settings_data = settings_data
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._messages: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._messages = asyncio.Queue()
        process = ctx.Process(
            target=child_main, args=(child, self._settings_data), daemon=True, name="lipsync-render"
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        asyncio.get_running_loop().add_reader(parent.fileno(), self._on_readable)
        message = await asyncio.wait_for(self._next(), READY_TIMEOUT)
        if message[0] != "ready":
            raise ChildDied(f"unexpected first message {message!r}")

    async def run(self, payload: dict[str, Any], on_progress: Progress) -> tuple[str, dict]:
        assert self._conn is not None
        self._conn.send(("run", payload))
        while True:
            message = await self._next()
            if message[0] == "progress":
                on_progress(message[1], message[2])
            else:
                return message[0], message[1]

    def kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()

    async def close(self) -> None:
        self.kill()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._conn.fileno())
            self._conn.close()
            self._conn = None
        if self._process is not None:
            await asyncio.to_thread(self._process.join, 5)
            self._process = None

    async def _next(self) -> tuple[Any, ...]:
        message = await self._messages.get()
        if message is None:
            raise ChildDied("the render process exited")
        return message

    def _on_readable(self) -> None:
        assert self._conn is not None
        try:
            while self._conn.poll():
                self._messages.put_nowait(self._conn.recv())
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(self._conn.fileno())
            self._messages.put_nowait(None)


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
        self.models = models or list(pricing.MODELS)
        self.on_update = on_update
        self.name = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._processes: list[RenderProcess] = []
        self._settings_data = settings.to_dict()

    async def start(self) -> None:
        check_plugins(self.settings.workers.plugins)
        self._processes = [RenderProcess(self._settings_data) for _ in range(self.slots)]
        await asyncio.gather(*(p.start() for p in self._processes))
        self._tasks = [
            asyncio.create_task(self._slot_loop(i), name=f"slot-{i}") for i in range(self.slots)
        ]
        self._tasks.append(asyncio.create_task(self._recovery_loop(), name="recovery"))
        log.info("worker pool %s started with %d render processes", self.name, self.slots)

    async def stop(self) -> None:
        """Stop taking jobs; jobs in flight go back to the queue without using an attempt."""
        self._stop.set()
        for process in self._processes:
            process.kill()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(p.close() for p in self._processes), return_exceptions=True)
        self._tasks.clear()

    async def _slot_loop(self, index: int) -> None:
        owner = f"{self.name}:{index}"
        while not self._stop.is_set():
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
        process = self._processes[index]
        output_name = self.storage.new_output_name()
        output_path = self.storage.output_path(output_name)
        work_dir = self.storage.work_dir(job.id)
        payload = {
            "id": job.id,
            "model": job.model,
            "params": job.params,
            "inputs": {role: str(self.storage.root / rel) for role, rel in job.inputs.items()},
            "work_dir": str(work_dir),
            "output_path": str(output_path),
            "max_output_seconds": job.estimate_seconds,
        }
        progress: dict[str, Any] = {"stage": "starting", "fraction": 0.0, "dirty": False}
        lost = asyncio.Event()

        def on_progress(stage: str, fraction: float) -> None:
            progress.update(stage=stage, fraction=fraction, dirty=True)

        beat = asyncio.create_task(self._heartbeat(job, owner, progress, lost, process))
        try:
            kind, data = await process.run(payload, on_progress)
        except ChildDied:
            await self._after_child_death(index, owner, job, lost.is_set())
            return
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            shutil.rmtree(work_dir, ignore_errors=True)

        if kind == "done":
            await self._finish(owner, job, output_name, data)
        else:
            output_path.unlink(missing_ok=True)
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

    async def _after_child_death(self, index: int, owner: str, job: Job, lost: bool) -> None:
        if self._stop.is_set():
            requeued = await jobs.requeue(
                self.db, job.id, owner, reason="shutdown", count_attempt=False
            )
        elif lost:
            requeued = None  # canceled, or another worker has it: we killed our own render
        else:
            log.warning("job %s: render process died; re-queueing", job.id)
            requeued = await jobs.requeue(
                self.db, job.id, owner, reason="the render process died", count_attempt=True
            )
        if requeued is not None:
            await self._notify(requeued)
        await self._processes[index].close()
        if not self._stop.is_set():
            self._processes[index] = RenderProcess(self._settings_data)
            await self._processes[index].start()

    async def _heartbeat(
        self,
        job: Job,
        owner: str,
        progress: dict[str, Any],
        lost: asyncio.Event,
        process: RenderProcess,
    ) -> None:
        """Renew the lease and report progress; kill the render if the job is lost.

        A new stage is written within a fifth of a second (waiters show it), a new
        percentage at most once a second (it changes constantly), and the lease is renewed
        every `heartbeat_seconds` even when nothing changed.
        """
        tick = min(0.2, self.settings.workers.heartbeat_seconds)
        last_write = time.monotonic()
        written_stage = ""
        while True:
            await asyncio.sleep(tick)
            since = time.monotonic() - last_write
            due = since >= self.settings.workers.heartbeat_seconds
            new_stage = progress["stage"] != written_stage
            if not (due or new_stage or (progress["dirty"] and since >= 1.0)):
                continue
            progress["dirty"] = False
            written_stage = progress["stage"]
            ours = await jobs.heartbeat(
                self.db,
                job.id,
                owner,
                self.settings.workers.lease_seconds,
                stage=progress["stage"],
                progress=progress["fraction"],
            )
            last_write = time.monotonic()
            if not ours:
                log.info("job %s is no longer ours (canceled or re-queued); stopping", job.id)
                lost.set()
                process.kill()
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

    async def _notify(self, job: Job) -> None:
        if self.on_update is not None:
            try:
                await self.on_update(job)
            except Exception:
                log.exception("job listener failed for %s", job.id)
