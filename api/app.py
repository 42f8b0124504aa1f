"""The REST door: both seed dialects, files, account routes, health."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import account, dev, files, studio
from api.errors import install_error_handlers
from api.gate import RequestGate
from api.views import dev_webhook, studio_job
from engine.jobs import Job
from engine.service import Service

DESCRIPTION = """
Self-hostable lipsync: a photo or a video plus a voice in, a lip-synced MP4 out.

Two dialects share one engine and one credit balance: the lipsync.studio one
(`/api/v1/lipsync-*`, `/api/v1/jobs/{id}`) and the LipSync.dev one (`/api/v1/lipsync/...`).
Authenticate with `Authorization: Bearer sk_...` or `X-API-Key: sk_...`.
"""


def create_app(
    service: Service,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    keyed_paths: tuple[str, ...] = (),
) -> FastAPI:
    """The REST door. `keyed_paths`: prefixes of other doors composed on this app (MCP at
    `/mcp`) whose requests the gate checks for a key and a body limit too."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start_webhooks(webhook_payload(service), transport=webhook_transport)
        try:
            yield
        finally:
            await service.stop_webhooks()

    app = FastAPI(
        title="Lipsync service", version="0.1.0", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.service = service
    install_error_handlers(app)

    app.add_middleware(RateLimitHeaders)
    app.add_middleware(RequestGate, service=service, keyed_paths=keyed_paths)  # runs first

    @app.get("/health", tags=["health"], summary="Liveness and queue depth")
    async def health() -> dict:
        now = await service.health()
        return {
            "status": "ok",
            "queued": now.queued,
            "processing": now.processing,
            "workers": now.workers,
        }

    for router in (studio.router, dev.router, account.router, files.router):
        app.include_router(router)
    return app


class RateLimitHeaders:
    """Adds the `X-RateLimit-*` headers the auth step computed to whatever the route
    answers. A plain ASGI middleware: Starlette's BaseHTTPMiddleware costs a task and a
    stream per request, a measurable share of a poll."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            extra = state.get("rate_headers")
            if message["type"] == "http.response.start" and extra:
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(
                        (name.lower().encode(), value.encode())
                        for name, value in extra.items()
                        if name.lower().encode() not in present
                    ),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def webhook_payload(service: Service) -> Callable[[Job], dict]:
    def build(job: Job) -> dict:
        return dev_webhook(job, service) if job.source == "dev" else studio_job(job, service)

    return build
