"""`lipsync serve` and `lipsync worker`: long-running processes and their clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from typing import Protocol

import uvicorn

from engine.config import Settings
from engine.service import NewKey, Service
from engine.storage import write_private

log = logging.getLogger("lipsync")


ADMIN_KEY_FILE = "admin-key.txt"


def hand_over_admin_key(new: NewKey, settings: Settings) -> None:
    """Show the first-start admin key once, to a person, never to a log.

    On a terminal it is printed. When stdout goes elsewhere (systemd's journal, a
    container's log driver, a CI log) it would be kept and shipped with the logs, so it is
    written to a file only this user can read, and only that file's path is printed.
    """
    if sys.stdout.isatty():
        print(
            "\n  First start: created the admin API key with "
            f"{new.key.balance} credits. It is shown only now; keep it safe:\n\n    {new.secret}\n"
            f"\n  Its webhooks are signed with `lipsync keys secret {new.key.id}`.\n",
            flush=True,
        )
        return
    path = settings.data_path / ADMIN_KEY_FILE
    write_private(path, f"{new.secret}\n")
    print(
        f"  First start: created the admin API key with {new.key.balance} credits. Output is "
        f"not a terminal, so the key is in {path} (readable by this user only); store it "
        f"and delete the file. Its webhooks are signed with `lipsync keys secret {new.key.id}`.",
        flush=True,
    )


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling.

    uvicorn catches SIGINT and SIGTERM and, once it has stopped serving, raises them again
    with the default handlers: SIGTERM then ends the process before the worker pool can
    put its jobs back and kill its render processes. `serve` owns both signals instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def on_stop_signals(stop: asyncio.Event) -> None:
    """SIGINT (Ctrl-C) and SIGTERM (systemd, `docker stop`, `kill`) both mean: stop cleanly."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def serve(settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM; then stop claiming, put the jobs in flight back
    without using an attempt, kill the render processes, and exit 0."""
    from cli.http_app import http_app

    stop = asyncio.Event()
    on_stop_signals(stop)
    service = await Service.open(settings)
    doors: list[Door] = []
    try:
        new = await service.ensure_admin_key()
        if new is not None:
            hand_over_admin_key(new, settings)
        await service.start_workers()
        doors = await start_doors(chat_doors(service), settings)
        server = _Server(
            uvicorn.Config(
                http_app(service),
                host=settings.host,
                port=settings.port,
                log_level=settings.log_level,
                lifespan="on",
            )
        )
        stopper = asyncio.create_task(_stop_on(stop, server))
        try:
            if not stop.is_set():  # a signal during start-up: stop without serving
                print(f"  Serving on {settings.base_url} (health: {settings.base_url}/health)")
                sys.stdout.flush()
                await server.serve()
        finally:
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopper
    finally:
        # Always close: the database threads would otherwise keep the process alive.
        for door in doors:
            await door.stop()
        await service.close()
        log.info("stopped; jobs in flight went back to the queue")
    return 0


async def _stop_on(stop: asyncio.Event, server: uvicorn.Server) -> None:
    await stop.wait()
    server.should_exit = True
    stop.clear()
    await stop.wait()  # a second signal: do not wait for open connections
    server.force_exit = True


class Door(Protocol):
    """A front door that runs beside the HTTP app (a chat bot)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def chat_doors(service: Service) -> list[Door]:
    """The bots whose tokens are configured; they share this process's engine."""
    settings = service.settings
    return [
        _bot_door(service, platform)
        for platform in ("telegram", "discord")
        if getattr(settings, platform).token
    ]


async def start_doors(doors: list[Door], settings: Settings) -> list[Door]:
    """Start the bots; one that cannot start (a revoked token) is reported, not fatal,
    so the REST API and the other doors still come up."""
    started: list[Door] = []
    for door in doors:
        try:
            await door.start()
        except Exception as exc:
            # Library messages may quote the token ("The token `...` was rejected").
            message = str(exc)
            for secret in (settings.telegram.token, settings.discord.token):
                if secret:
                    message = message.replace(secret, "[token]")
            log.error("%s could not start: %s", type(door).__name__, message)
            continue
        started.append(door)
    return started


async def run_worker(settings: Settings, slots: int | None) -> int:
    stop = asyncio.Event()
    on_stop_signals(stop)
    service = await Service.open(settings)
    try:
        await service.start_workers(slots)
        print(
            f"  Worker running with {service.pool.slots if service.pool else 0} render "
            f"processes on {settings.database_path}",
            flush=True,
        )
        await stop.wait()
    finally:
        await service.close()
    return 0


async def run_bot(settings: Settings, platform: str) -> int:
    """`lipsync bot telegram|discord`: one chat bot with its own render workers, until
    SIGINT or SIGTERM (exit 0), or until the bot stops by itself (exit 1)."""
    section = getattr(settings, platform)
    if not section.token:
        print(
            f"lipsync: no {platform.title()} token; set [{platform}] token in config.toml "
            f"or LIPSYNC_{platform.upper()}_TOKEN",
            flush=True,
        )
        return 2
    stop = asyncio.Event()
    on_stop_signals(stop)
    service = await Service.open(settings)
    door = _bot_door(service, platform)
    crashed = False
    try:
        await service.start_workers()
        if not await start_doors([door], settings):
            return 2
        print(f"  {platform.title()} bot running; press Ctrl+C to stop", flush=True)
        # A Discord door runs as a task that ends if the gateway gives up for good.
        ended: asyncio.Task[None] | None = getattr(door, "task", None)
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait(
            {stopper, *([ended] if ended else [])}, return_when=asyncio.FIRST_COMPLETED
        )
        stopper.cancel()
        crashed = ended is not None and ended.done()
    finally:
        await door.stop()
        await service.close()
    return 1 if crashed else 0


def _bot_door(service: Service, platform: str) -> Door:
    if platform == "telegram":
        from bots.telegram.run import TelegramDoor

        return TelegramDoor(service)
    from bots.discord.run import DiscordDoor

    return DiscordDoor(service)
