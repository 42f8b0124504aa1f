"""Running the real app in tests: ASGI in-process with its lifespan, and a webhook receiver."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cli.http_app import http_app
from engine.service import Service


def free_port() -> int:
    """A loopback port nobody listens on now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Receiver:
    """A webhook endpoint that records what it got; answers `status` (a list = in turn)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return Response(status_code=status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@asynccontextmanager
async def api_client(
    service: Service, receiver: Receiver | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(receiver.app()) if receiver else None
    app = http_app(service, webhook_transport=transport)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url=service.settings.base_url
        ) as client,
    ):
        yield client
