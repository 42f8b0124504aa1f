"""The real HTTP server for browser tests: uvicorn serving `http_app` on a loopback port,
with the service's render workers running, in a thread of its own.

A browser driven by Playwright's sync API must not share the test's thread with a running
event loop, so the server gets its own thread and loop; a test reaches the service on that
loop with `server.call(...)` (the service's database belongs to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from cli.http_app import http_app
from engine.service import Service
from tests.conftest import make_settings
from tests.support.http import free_port

T = TypeVar("T")
START_TIMEOUT = 60.0


class _Server(uvicorn.Server):
    """uvicorn without signal handlers (they belong to the test runner's main thread)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class PortalServer:
    """`with PortalServer(folder) as server:` serves until the block ends.

    `settings` are overrides for `tests.conftest.make_settings`; by default the real
    renderer runs in one worker process (no scripted handlers).
    """

    def __init__(self, data_dir: Path, *, workers: bool = True, **settings: Any) -> None:
        self.port = free_port()
        self.settings = make_settings(
            data_dir, port=self.port, **{"workers": {"plugins": [], "count": 1}, **settings}
        )
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self._service: Service | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._uvicorn: _Server | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="portal-server", daemon=True)

    def __enter__(self) -> PortalServer:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise AssertionError("the portal server did not start in time")
        if self._failure is not None:
            raise AssertionError("the portal server could not start") from self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        self._thread.join(60)

    @property
    def service(self) -> Service:
        """The running service, for what needs no database (prices, URLs, secrets); use
        `call` for the rest."""
        assert self._service is not None, "the server is not running"
        return self._service

    def call(self, work: Callable[[Service], Awaitable[T]], timeout: float = 60) -> T:
        """Run `work(service)` on the server's loop and return what it returns."""
        assert self._loop is not None, "the server is not running"
        future: Future[T] = asyncio.run_coroutine_threadsafe(
            _awaited(work(self.service)), self._loop
        )
        return future.result(timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to __enter__ if it happens while starting
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        service = await Service.open(self.settings)
        self._service = service
        try:
            if self.workers:
                await service.start_workers()
            self._uvicorn = _Server(
                uvicorn.Config(
                    http_app(service),
                    host="127.0.0.1",
                    port=self.port,
                    log_level="warning",
                    lifespan="on",
                    timeout_graceful_shutdown=2,
                )
            )
            serving = asyncio.create_task(self._uvicorn.serve())
            while not self._uvicorn.started:
                if serving.done():
                    serving.result()  # raises what stopped it
                    raise RuntimeError("uvicorn stopped while starting")
                await asyncio.sleep(0.02)
            self._ready.set()
            await serving
        finally:
            await service.close()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable
