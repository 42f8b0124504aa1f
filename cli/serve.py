"""`lipsync serve` and `lipsync worker`: long-running processes and their clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Protocol

import uvicorn

from engine.config import Settings
from engine.service import NewKey, Service

log = logging.getLogger("lipsync")
SWEEP_INTERVAL = 3600.0


def print_admin_key(new: NewKey) -> None:
    # Printed to the terminal once, never logged: logs are often shipped elsewhere.
    print(
        "\n  First start: created the admin API key with "
        f"{new.key.balance} credits. It is shown only now; keep it safe:\n\n    {new.secret}\n",
        flush=True,
    )


async def serve(settings: Settings) -> int:
    from api.app import create_app

    service = await Service.open(settings)
    doors: list[Door] = []
    try:
        new = await service.ensure_admin_key()
        if new is not None:
            print_admin_key(new)
        await service.start_workers()
        doors = await start_doors(chat_doors(service), settings)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(service),
                host=settings.host,
                port=settings.port,
                log_level=settings.log_level,
                lifespan="on",
            )
        )
        sweeper = asyncio.create_task(_sweep_forever(service))
        print(f"  Serving on {settings.base_url} (health: {settings.base_url}/health)", flush=True)
        try:
            await server.serve()
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
    finally:
        # Always close: the database threads would otherwise keep the process alive.
        for door in doors:
            await door.stop()
        await service.close()
        log.info("stopped; jobs in flight went back to the queue")
    return 0


class Door(Protocol):
    """A front door that runs beside the HTTP app (a chat bot)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def chat_doors(service: Service) -> list[Door]:
    """The bots whose tokens are configured; they share this process's engine."""
    doors: list[Door] = []
    if service.settings.telegram.token:
        from bots.telegram.run import TelegramDoor

        doors.append(TelegramDoor(service))
    if service.settings.discord.token:
        from bots.discord.run import DiscordDoor

        doors.append(DiscordDoor(service))
    return doors


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
    service = await Service.open(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
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


async def _sweep_forever(service: Service) -> None:
    retention = service.settings.retention_days * 86400
    while True:
        try:
            removed = await asyncio.to_thread(service.storage.sweep, retention)
            if removed:
                log.info("retention: removed %d old files", removed)
        except Exception:
            log.exception("retention sweep failed")
        await asyncio.sleep(SWEEP_INTERVAL)
