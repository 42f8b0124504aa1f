"""The render process: a spawned child that runs one job at a time for its pool slot.

`run_job` is the one piece of code that runs a job's handler, shared by this process (the
`local` executor) and the Ray actor (`engine/worker/ray_executor.py`).

Rendering is CPU-bound and uses native libraries (MediaPipe, x264) that are not fork-safe,
so each slot owns one *spawned* process for its lifetime and talks to it over a pipe. The
process stays warm between jobs (models loaded once). The parent kills it to cancel a job
and notices its death (EOF on the pipe) when it crashes.

Messages, child -> parent:
    ("ready",)                                   after the handlers are imported
    ("progress", stage, fraction)
    ("done", {"output_seconds": float, "timings": {...}})
    ("error", {"code", "message", "user_error": bool, "timings"})
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from engine.config import Settings, settings_from_dict
from engine.errors import LipsyncError
from engine.handlers import JobContext, JobSpec, ProgressSink, get_handler, load_handlers
from engine.native_logs import quiet_native_logs
from engine.speech_inputs import is_planned, speak_planned
from engine.vocabulary import Stage

PROGRESS_INTERVAL = 0.2

log = logging.getLogger("lipsync.worker")


def child_main(conn: Connection, settings_data: dict[str, Any]) -> None:
    # Ctrl-C in the terminal reaches the whole process group, and systemd sends SIGTERM to
    # every process of the service; the parent decides what happens to the job (back to the
    # queue, no attempt used), so the child ignores both and waits to be told or killed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _exit_with_parent()
    quiet_native_logs()  # before the handlers import MediaPipe
    settings = settings_from_dict(settings_data)
    load_handlers(settings.workers.plugins)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        if message[0] == "run":
            conn.send(run_job(message[1], settings, lambda s, f: conn.send(("progress", s, f))))


def _exit_with_parent() -> None:
    """If the pool process is killed (-9), its render process must not render on alone."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def run_job(
    payload: dict[str, Any], settings: Settings, send: ProgressSink
) -> tuple[str, dict[str, Any]]:
    """Run one job's handler on the paths in `payload`; never raises for the job's own
    failures, which come back as ("error", {...}) so the caller settles them, not crashes.

    Progress goes to `send` at most every PROGRESS_INTERVAL (plus every stage's start and
    end), so a chatty handler cannot flood the pipe or the actor's progress buffer.
    """
    last_sent = 0.0

    def report(stage: str, fraction: float) -> None:
        nonlocal last_sent
        now = time.monotonic()
        if fraction in (0.0, 1.0) or now - last_sent >= PROGRESS_INTERVAL:
            last_sent = now
            send(stage, fraction)

    ctx = JobContext(report=report)
    handler = get_handler(payload["model"])
    if handler is None:
        return "error", {
            "code": "unsupported_model",
            "message": f"this server cannot render {payload['model']}",
            "user_error": True,
            "timings": {},
        }
    spec = JobSpec(
        id=payload["id"],
        model=payload["model"],
        params=payload["params"],
        inputs={role: Path(p) for role, p in payload["inputs"].items()},
        work_dir=Path(payload["work_dir"]),
        output_path=Path(payload["output_path"]),
        settings=settings,
        max_output_seconds=payload.get("max_output_seconds"),
    )
    started = time.perf_counter()
    try:
        spec = _with_speech(spec, ctx)
        result = handler(spec, ctx)
    except LipsyncError as exc:
        return "error", {
            "code": exc.code,
            "message": exc.message,
            "user_error": True,
            "timings": ctx.timings,
        }
    except Exception as exc:  # a bug or an outage: logged in full, reported in short
        log.error("job %s crashed:\n%s", spec.id, traceback.format_exc())
        return "error", {
            "code": "render_error",
            "message": f"the render failed unexpectedly ({type(exc).__name__})",
            "user_error": False,
            "timings": ctx.timings,
        }
    ctx.timings["total"] = round(time.perf_counter() - started, 4)
    return "done", {"output_seconds": result.output_seconds, "timings": ctx.timings}


def _with_speech(spec: JobSpec, ctx: JobContext) -> JobSpec:
    """The job with its voices typed as text spoken (`engine.speech_inputs`): first thing,
    here, since a neural voice takes a while. The job was priced on the longest its speech
    could last, so the output is not cut at that price (the charge never exceeds it)."""
    if not any(is_planned(path) for path in spec.inputs.values()):
        return spec
    with ctx.stage(Stage.SPEAKING):
        inputs = speak_planned(spec.inputs, spec.work_dir, spec.settings)
    return dataclasses.replace(spec, inputs=inputs, max_output_seconds=None)
