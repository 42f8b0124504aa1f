"""Build the MCP server object for one door: the same tools, a door-specific caller.

A door decides two things: whose account a call acts for (`CallerResolver`: a fixed local
account over stdio, the API key's account over HTTP), and whether the caller may name
files on this machine (only stdio, where the server runs on the user's own computer).
Everything else, tools and results, is shared through `mcp_server.tools`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer

from engine.service import Service
from mcp_server.signatures import register
from mcp_server.tools import Caller, CallerResolver, LipsyncTools

NAME = "lipsync"
VERSION = "0.1.0"
INSTRUCTIONS = """\
Lipsync makes lip-synced MP4 videos: a portrait photo plus a voice (lipsync_image), a photo
of two people plus two voices (lipsync_image_multi), or a video plus new audio
(lipsync_video). Inputs are public URLs or data: URIs{local}. Jobs cost credits
(estimate_cost, get_balance). A submit returns a job id at once; pass wait_seconds to wait
for the result with progress, or follow the job with get_job. A finished job returns the
video's URL, its length, the credits charged and a thumbnail of its middle frame."""

Lifespan = Callable[[MCPServer[Any]], AbstractAsyncContextManager[Any]]


def fixed_caller(account_id: str) -> CallerResolver:
    """Every call acts for one account: the stdio door's configured local account."""
    caller = Caller(account_id=account_id, rate_limited=False)

    async def resolve(_: Context) -> Caller:
        return caller

    return resolve


def build_server(
    service: Service,
    resolve_caller: CallerResolver,
    *,
    local_dirs: Sequence[Path] = (),
    show_local_paths: bool = False,
    lifespan: Lifespan | None = None,
) -> MCPServer[Any]:
    """An `MCPServer` with every lipsync tool, acting for whoever `resolve_caller` names.

    `local_dirs`: folders whose files may be named as inputs (empty: URLs only).
    `show_local_paths`: put the output's path on this machine into results.
    `lifespan`: entered while the server runs (stdio uses it to start the render workers
    only once the transport owns stdout).
    """
    local = " or local file paths" if local_dirs else ""
    mcp: MCPServer[Any] = MCPServer(
        NAME,
        title="Lipsync",
        version=VERSION,
        instructions=INSTRUCTIONS.format(local=local),
        lifespan=lifespan,
    )
    tools = LipsyncTools(
        service, resolve_caller, local_dirs=local_dirs, show_local_paths=show_local_paths
    )
    register(mcp, tools)
    return mcp
