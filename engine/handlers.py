"""Job handlers: the code that turns a claimed job's inputs into its output file.

Handlers run inside spawned worker processes, synchronously, one job at a time; they never
see the database. A handler reports progress through its `JobContext` and returns how long
the output is (the worker prices the job from that). A `LipsyncError` raised by a handler
is the user's problem (bad media, no face): the job fails with that message and is refunded.

The registry is keyed by model name. The built-in renderer registers itself; a plugin module
(config `workers.plugins`) may register a handler for the same model to replace it, which is
how an operator plugs in a neural backend, and how the tests plug in a controllable one.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import Settings

BUILTIN_HANDLER_MODULES = ("engine.lipsync.portrait.jobs", "engine.lipsync.dubbing.job")


@dataclass(frozen=True)
class JobSpec:
    id: str
    model: str
    params: dict[str, Any]
    inputs: dict[str, Path]
    work_dir: Path
    output_path: Path
    settings: Settings
    # The output length the job was priced and held for: a render never makes more, whatever
    # the files turn out to hold. None outside the queue (CLI renders, tests of a handler).
    max_output_seconds: float | None = None


@dataclass(frozen=True)
class HandlerResult:
    output_seconds: float


ProgressSink = Callable[[str, float], None]


@dataclass
class JobContext:
    """What a handler may tell the world while it works: its stage and how far along it is."""

    report: ProgressSink
    timings: dict[str, float] = field(default_factory=dict)
    current_stage: str = ""

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a named stage ("finding faces", "rendering", ...) and report entering it."""
        self.current_stage = name
        self.report(name, 0.0)
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.timings[name] = round(self.timings.get(name, 0.0) + elapsed, 4)

    def progress(self, fraction: float) -> None:
        self.report(self.current_stage, min(1.0, max(0.0, fraction)))


Handler = Callable[[JobSpec, JobContext], HandlerResult]

_registry: dict[str, Handler] = {}


def register(model: str) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        _registry[model] = handler
        return handler

    return decorate


def get_handler(model: str) -> Handler | None:
    return _registry.get(model)


def registered_models() -> list[str]:
    return sorted(_registry)


def load_handlers(plugins: list[str]) -> None:
    """Import the built-in handlers, then the plugins (which may override them)."""
    for module in (*BUILTIN_HANDLER_MODULES, *plugins):
        importlib.import_module(module)
