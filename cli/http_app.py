"""The HTTP server's app: the REST door, with the MCP door beside it at `/mcp` and the
portal's pages at `/`.

The doors are peers that know nothing of each other; this is where they meet. One gate in
front checks keys and body limits from the headers for all of them, and one lifespan runs
what they need (webhook delivery for REST, the session manager for MCP).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from api.app import create_app
from engine.service import Service
from mcp_server.http import PATH as MCP_PATH
from mcp_server.http import McpHttpDoor, caller_from_request
from mcp_server.server import build_server
from portal import door as portal


def http_app(
    service: Service, *, webhook_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    mcp = McpHttpDoor(service)
    app = create_app(
        service,
        webhook_transport=webhook_transport,
        keyed_paths=(MCP_PATH,),
        upload_paths=portal.UPLOAD_PATHS,
    )
    app.router.add_route(MCP_PATH, mcp.app, include_in_schema=False)
    app.include_router(portal.router())
    app.mount(portal.STATIC_PATH, portal.static_files(), name="portal-static")
    rest_lifespan = app.router.lifespan_context
    rest_description = app.description

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with rest_lifespan(app), mcp.running():
            app.description = rest_description + await describe_mcp(service)
            app.openapi_schema = None  # built again, with the MCP door in its description
            yield

    app.router.lifespan_context = lifespan
    return app


async def describe_mcp(service: Service) -> str:
    """The MCP door, with the names of the tools it really serves, for the API's
    description on the docs pages."""
    tools = await build_server(service, caller_from_request).list_tools()
    names = ", ".join(f"`{tool.name}`" for tool in tools)
    return (
        f"\n**MCP.** The same service is an MCP server over streamable HTTP at `{MCP_PATH}` "
        "on this origin, for assistants and agents: the same API keys (`Authorization: "
        "Bearer sk_...` or `X-API-Key: sk_...`; without one, 401), the same credits and rate "
        f"limits. Its tools: {names}.\n"
    )
