"""`lipsync mcp`: the MCP server on stdin/stdout, for desktop assistants.

stdout carries the protocol and nothing else. While the SDK's stdio transport serves, it
points file descriptor 1 at stderr and answers on a private copy of the real stdout, so
the render workers are started only inside it (from the server's lifespan): whatever they
or the native libraries they load print lands on stderr, never in the protocol stream.

The caller is the one account named in config (`[mcp] stdio_account`), made with starter
credits on first use. Because this server runs on the user's own machine, inputs may also
be local files under `[mcp] allowed_dirs`, and under the data directory's outputs, so a
finished video can be fed into the next job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

from engine.config import Settings
from engine.service import Service
from engine.storage import OUTPUTS
from mcp_server.server import Lifespan, build_server, fixed_caller

log = logging.getLogger("lipsync.mcp")


def stdio_local_dirs(settings: Settings) -> list[Path]:
    """Folders whose files a stdio caller may name as inputs."""
    dirs = [Path(d).expanduser().resolve() for d in settings.mcp.allowed_dirs if d]
    return [*dirs, settings.data_path / OUTPUTS]


async def run_stdio(settings: Settings) -> int:
    """Serve MCP on stdio until the client disconnects (or SIGTERM); 0 when it ends well."""
    service = await Service.open(settings)
    terminated = False
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        if main is not None:
            main.cancel()

    loop.add_signal_handler(signal.SIGTERM, terminate)
    try:
        account = await service.named_account(
            f"mcp:{settings.mcp.stdio_account}",
            kind="api",
            starter_credits=settings.mcp.stdio_starter_credits,
        )
        local_dirs = stdio_local_dirs(settings)
        server = build_server(
            service,
            fixed_caller(account.id),
            local_dirs=local_dirs,
            show_local_paths=True,
            lifespan=_render_workers(service),
        )
        log.info(
            "MCP on stdio for account %s (%d credits); local files under: %s",
            account.owner,
            account.balance,
            ", ".join(str(d) for d in local_dirs),
        )
        await server.run_stdio_async()
    except asyncio.CancelledError:
        if not terminated:
            raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        await service.close()
    return 0


def _render_workers(service: Service) -> Lifespan:
    """Start the worker pool once the transport owns stdout, without delaying the handshake.

    The pool starts in the background: a job submitted before it is ready simply waits in
    the queue. `service.close()` stops it afterwards.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        starting = asyncio.create_task(service.start_workers(), name="mcp-workers")
        starting.add_done_callback(_report_start)
        try:
            yield {}
        finally:
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await starting

    return lifespan


def _report_start(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("render workers did not start; jobs will wait", exc_info=task.exception())
