"""Renders on a Ray cluster (`workers.executor = "ray"`, the `ray` extra).

What stays on the API node: SQLite, the pool's slots with their claims, leases, heartbeats
and progress watch, pricing and settling, and the storage that holds inputs and outputs.
What runs on the cluster: one `RenderActor` per slot, holding `workers.ray_num_cpus` CPUs
and `workers.ray_num_gpus` GPUs of whichever node Ray places it on, with the handlers (and
any model they load) imported once for the actor's life, like a warm render process.

No shared disk is assumed: a slot reads the job's inputs to bytes here, they travel
through Ray's object store, the actor writes them into a scratch folder on its node, runs
the same `run_job` as a local render process and sends the finished file's bytes back,
which the slot writes where the pool expects the render. Progress comes back while it
renders: the actor is threaded (one render plus `progress()` polls at a time), and the
slot polls it. Stopping a render (cancel, stall, overtime, shutdown) kills the actor; an
actor that dies or whose node is lost fails its call with a `RayError`, which the pool
treats as a crashed render (re-queued, an attempt used). Either way the slot then starts a
fresh actor. Actors belong to this process's Ray driver, so Ray ends them if it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import AuthenticationError, RayError

from engine.config import Settings, settings_from_dict
from engine.errors import ConfigError
from engine.handlers import load_handlers
from engine.lipsync.neural import load_generator
from engine.native_logs import quiet_native_logs
from engine.worker.child import run_job
from engine.worker.executor import READY_TIMEOUT, Progress, RenderDied

log = logging.getLogger("lipsync.worker")
POLL_SECONDS = 0.2
CONNECT_SECONDS = 10.0
SCRATCH_PREFIX = "lipsync-render-"  # + the actor's pid: a folder in the node's temp dir

_lock = threading.Lock()
_users = 0
_connected_here = False


class RenderActor:
    """A render process on a cluster node; the slot drives it like a local one."""

    def __init__(self, settings_data: dict[str, Any]) -> None:
        # Ray prints an actor's stdout on the driver's stdout, which is the protocol channel
        # of `lipsync mcp` (stdio): whatever a handler or library prints goes to stderr.
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        quiet_native_logs()  # before the handlers import MediaPipe
        _sweep_scratch()
        self._settings = settings_from_dict(settings_data)
        # A neural backend's model is loaded now and kept (the pool checked the weights on
        # the API node; this is this node's copy): a node without them, or without the GPU
        # render.device names, fails the actor's start saying why, and no job waits for it.
        load_generator(self._settings)
        load_handlers(self._settings.workers.plugins)
        self._events: list[tuple[str, float]] = []
        self._events_lock = threading.Lock()

    def ready(self) -> tuple[int, str]:
        return os.getpid(), ray.get_runtime_context().get_node_id()

    def progress(self) -> list[tuple[str, float]]:
        """The progress reported since the last call (run_job already thins it out)."""
        with self._events_lock:
            events, self._events = self._events, []
        return events

    def render(
        self, payload: dict[str, Any], inputs: dict[str, tuple[str, bytes]]
    ) -> tuple[str, dict[str, Any], bytes | None]:
        scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        try:
            paths: dict[str, str] = {}
            for role, (name, data) in inputs.items():
                # The job's folder names each input after its role (`audio.wav`,
                # `audio.speech.json`), so its own name is unique and says what it holds.
                path = scratch / name
                path.write_bytes(data)
                paths[role] = str(path)
            work = scratch / "work"
            work.mkdir()
            output = work / Path(payload["output_path"]).name
            here = {**payload, "inputs": paths, "work_dir": str(work), "output_path": str(output)}
            kind, data = run_job(here, self._settings, self._report)
            rendered = output.read_bytes() if kind == "done" and output.is_file() else None
            return kind, data, rendered
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _report(self, stage: str, fraction: float) -> None:
        with self._events_lock:
            self._events.append((stage, fraction))


def _sweep_scratch() -> None:
    """Remove the scratch folders of actors on this node that were killed mid-render (a
    cancel kills the actor, so its `finally` never ran): their inputs would pile up."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        pid = folder.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _last_line(exc: BaseException) -> str:
    """The line of a Ray error that says what happened (its text carries whole tracebacks)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__


def _read_inputs(inputs: dict[str, str]) -> dict[str, tuple[str, bytes]]:
    return {role: (Path(p).name, Path(p).read_bytes()) for role, p in inputs.items()}


class _NoSignalNotice(logging.Filter):
    """ray.init, run off the event loop, warns that it did not take SIGTERM: as intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


logging.getLogger("ray._private.worker").addFilter(_NoSignalNotice())


def _reachable(address: str) -> None:
    """Fail fast where nobody listens: ray.init retries an unreachable head for minutes."""
    host, _, port = address.rpartition(":")
    if address == "auto" or not port.isdigit():
        return  # Ray finds "auto" itself, and names the bad address better than we would
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {address}: {exc}") from None


def _use_token_if_here() -> None:
    """Send this machine's Ray token (~/.ray/auth_token) when RAY_AUTH_MODE is unset, as
    `ray start` does: a head started on a box that has a token demands it, but ray.init
    with an explicit address never looks for one and fails with a bare "cannot connect".
    A cluster without authentication ignores the token, so sending it never hurts."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # another Ray version: RAY_AUTH_MODE=token by hand, as the README says
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _join(address: str) -> None:
    global _users, _connected_here
    with _lock:
        if _users == 0 and not ray.is_initialized():
            if address:
                _reachable(address)
                _use_token_if_here()
                ray.init(address=address)
            else:  # "local" always starts a fresh runtime, never a cluster found on the box
                ray.init(address="local", include_dashboard=False)
            _connected_here = True
        _users += 1


def _leave() -> None:
    global _users, _connected_here
    with _lock:
        _users = max(0, _users - 1)
        if _users == 0 and _connected_here:
            _connected_here = False
            ray.shutdown()


class RayExecutor:
    """Connects this process to Ray while a pool uses it, and makes one actor per slot."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._settings_data = settings.to_dict()
        self._actor_class: Any = None
        self._joined = False

    async def open(self) -> None:
        workers = self._settings.workers
        # ray.init makes SIGTERM exit the process at once (in the main thread); `serve`
        # owns SIGINT and SIGTERM for its clean stop, so they are put back as they were.
        saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            await asyncio.to_thread(_join, workers.ray_address)
        except Exception as exc:
            where = workers.ray_address or "a local Ray runtime"
            hint = (
                "the cluster wants its token: export RAY_AUTH_MODE=token here and copy the "
                "head's ~/.ray/auth_token to this machine"
                if isinstance(exc, AuthenticationError)
                else "start the cluster with `ray start --head` or fix workers.ray_address (a "
                "head that wants a token this machine lacks looks the same: see the README)"
            )
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise ConfigError(
                f'workers.executor = "ray": cannot connect to {where} ({first}); {hint}'
            ) from None
        finally:
            for sig, handler in saved.items():
                if handler is not None and signal.getsignal(sig) is not handler:
                    signal.signal(sig, handler)
        self._joined = True
        self._actor_class = ray.remote(RenderActor).options(
            num_cpus=workers.ray_num_cpus,
            num_gpus=workers.ray_num_gpus,
            max_concurrency=2,  # the render and the progress polls
            max_restarts=0,  # a dead actor is a crashed render: the pool decides what next
        )
        log.info(
            "rendering on Ray at %s (%s CPU, %s GPU per render)",
            workers.ray_address or "a local runtime",
            workers.ray_num_cpus,
            workers.ray_num_gpus,
        )

    def renderer(self) -> RayRenderer:
        assert self._actor_class is not None, "open() first"
        return RayRenderer(self._actor_class, self._settings_data, self._settings)

    async def close(self) -> None:
        if self._joined:
            self._joined = False
            await asyncio.to_thread(_leave)


class RayRenderer:
    """One slot's render actor: started warm, replaced after it died or was killed."""

    def __init__(self, actor_class: Any, settings_data: dict[str, Any], settings: Settings):
        self._actor_class = actor_class
        self._settings_data = settings_data
        self._settings = settings
        self._actor: Any = None
        self.pid: int | None = None
        self.node_id = ""

    @property
    def where(self) -> str:
        return f"ray node {self.node_id[:12] or '?'} pid {self.pid}"

    async def start(self) -> None:
        self._actor = self._actor_class.remote(self._settings_data)
        try:
            self.pid, self.node_id = await asyncio.wait_for(
                self._actor.ready.remote(), READY_TIMEOUT
            )
        except TimeoutError:
            self.kill()
            workers = self._settings.workers
            raise ConfigError(
                f"no Ray node could take a render actor ({workers.ray_num_cpus} CPU, "
                f"{workers.ray_num_gpus} GPU: workers.ray_num_cpus, workers.ray_num_gpus) "
                f"within {READY_TIMEOUT:.0f} s; `ray status` shows what the cluster has"
            ) from None
        except RayError as exc:
            self.kill()
            raise ConfigError(
                "a render actor could not start on the Ray cluster; every node needs this "
                "project (pip install '.[ray]') and the modules in workers.plugins installed, "
                f"with the same Python as this one ({_last_line(exc)})"
            ) from None

    async def run(self, payload: dict[str, Any], on_progress: Progress) -> tuple[str, dict]:
        actor = self._actor
        if actor is None:
            raise RenderDied("the render actor was stopped")
        inputs = await asyncio.to_thread(_read_inputs, payload["inputs"])
        poller = asyncio.create_task(self._poll(actor, on_progress))
        try:
            # Submitting serialises the inputs into the object store: off the event loop.
            ref = await asyncio.to_thread(actor.render.remote, payload, inputs)
            del inputs
            kind, data, rendered = await ref
        except RayError as exc:
            raise RenderDied(f"{type(exc).__name__}: {_last_line(exc)}") from None
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        if rendered is not None:
            await asyncio.to_thread(Path(payload["output_path"]).write_bytes, rendered)
        return kind, data

    async def _poll(self, actor: Any, on_progress: Progress) -> None:
        while True:
            try:
                events = await actor.progress.remote()
            except RayError:
                return  # the render call reports the actor's death
            for stage, fraction in events:
                on_progress(stage, fraction)
            await asyncio.sleep(POLL_SECONDS)

    def kill(self) -> None:
        if self._actor is not None:
            with contextlib.suppress(Exception):
                ray.kill(self._actor, no_restart=True)

    async def close(self) -> None:
        self.kill()
        self._actor = None
