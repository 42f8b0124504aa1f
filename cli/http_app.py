"""The HTTP server's app: the REST door, with the MCP door beside it at `/mcp`.

The two doors are peers that know nothing of each other; this is where they meet. One
gate in front checks keys and body limits from the headers for both, and one lifespan
runs what both need (webhook delivery for REST, the session manager for MCP).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from api.app import create_app
from engine.service import Service
from mcp_server.http import PATH as MCP_PATH
from mcp_server.http import McpHttpDoor


def http_app(
    service: Service, *, webhook_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    mcp = McpHttpDoor(service)
    app = create_app(service, webhook_transport=webhook_transport, keyed_paths=(MCP_PATH,))
    app.router.add_route(MCP_PATH, mcp.app, include_in_schema=False)
    rest_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with rest_lifespan(app), mcp.running():
            yield

    app.router.lifespan_context = lifespan
    return app
