"""Where renders run: the executor layer under the worker pool (`workers.executor`).

The pool owns everything that decides a job's fate: the claim and its lease, the heartbeat,
the progress watch (stall, overtime, lost), re-queueing and settling. An executor only
answers "run this payload somewhere and tell me how it went", through one `Renderer` per
pool slot. That split keeps one copy of the job logic for every executor:

    local   one warm spawned process per slot on this machine (`RenderProcess`), the default
    ray     one Ray actor per slot on a cluster (`engine/worker/ray_executor.py`)

A renderer's contract, which the pool relies on:

- `run` returns ("done" | "error", data) as `engine.worker.child.run_job` made it, with the
  output written to `payload["output_path"]` on this machine; it reports progress through
  its callback while the render runs.
- `kill` stops the render at once (cancel, stall, overtime, shutdown); the `run` in flight
  then raises `RenderDied`, as it does when the render dies on its own (crash, kill -9, a
  lost node). A renderer that died is closed and replaced by a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from engine.config import Settings
from engine.errors import ConfigError
from engine.worker.child import child_main

READY_TIMEOUT = 180.0
Progress = Callable[[str, float], None]


class RenderDied(Exception):
    """The render went away (crash, kill, out of memory, lost node) before it answered."""


class Renderer(Protocol):
    """One pool slot's warm place to render: a process here, or an actor on a cluster."""

    @property
    def where(self) -> str:
        """Where it renders, for logs and tests: "pid 1234" or "ray node <id> pid 1234"."""
        ...

    @property
    def pid(self) -> int | None:
        """The render's process id on the machine it runs on (None before it started)."""
        ...

    async def start(self) -> None: ...

    async def run(self, payload: dict[str, Any], on_progress: Progress) -> tuple[str, dict]: ...

    def kill(self) -> None: ...

    async def close(self) -> None: ...


class Executor(Protocol):
    async def open(self) -> None: ...

    def renderer(self) -> Renderer: ...

    async def close(self) -> None: ...


def check_executor(settings: Settings) -> None:
    """Refuse to start with an executor this installation cannot run, before any job is
    claimed (a pool whose renders can never start would hold jobs until their leases lapse).
    """
    if settings.workers.executor != "ray":
        return
    try:
        importlib.import_module("ray")
    except ImportError as exc:
        raise ConfigError(
            'workers.executor = "ray" needs Ray, which is not installed here '
            f"({exc}); install it with `pip install '.[ray]'` (or `pip install ray`), "
            'or set workers.executor = "local"'
        ) from None


def make_executor(settings: Settings) -> Executor:
    check_executor(settings)
    if settings.workers.executor == "ray":
        from engine.worker.ray_executor import RayExecutor  # only importable with the extra

        return RayExecutor(settings)
    return LocalExecutor(settings)


class LocalExecutor:
    """Spawned render processes on this machine: nothing to connect to."""

    def __init__(self, settings: Settings) -> None:
        self._settings_data = settings.to_dict()

    async def open(self) -> None:
        return None

    def renderer(self) -> RenderProcess:
        return RenderProcess(self._settings_data)

    async def close(self) -> None:
        return None


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

    @property
    def where(self) -> str:
        return f"pid {self.pid}"

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
            raise RenderDied(f"unexpected first message {message!r}")

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
            raise RenderDied("the render process exited")
        return message

    def _on_readable(self) -> None:
        assert self._conn is not None
        try:
            while self._conn.poll():
                self._messages.put_nowait(self._conn.recv())
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(self._conn.fileno())
            self._messages.put_nowait(None)
