"""The REST door: both seed dialects, files, account routes, health."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import account, dev, files, studio
from api.docs import install_docs
from api.errors import install_error_handlers
from api.gate import RequestGate
from api.views import dev_webhook, studio_job
from engine.jobs import Job
from engine.service import Service

DESCRIPTION = """
Self-hostable lipsync: a photo or a video plus a voice in, a lip-synced MP4 out.

Two dialects share one engine and one credit balance: the lipsync.studio one
(`/api/v1/lipsync-*`, `/api/v1/jobs/{job_id}`, the seeds' `/api/v1/jobs/{requestId}`) and
the LipSync.dev one (`/api/v1/lipsync/generate`, `/api/v1/lipsync/status/{job_id}`).

**Keys.** Every `/api/` route takes an API key, in either header: `Authorization: Bearer
sk_...` or `X-API-Key: sk_...` ("Authorize" above fills in one). `/health` and the
`/files/...` URLs that jobs and uploads give need none.

**Jobs are asynchronous.** A submit answers at once with the job's id; poll the job
every 5-10 seconds, or pass a webhook URL and get the result POSTed to it (signed with
Standard Webhooks headers). Inputs are public http(s) URLs, `data:` URIs or the URL of a
file uploaded to `/api/v1/files`. The price is held at submit, charged on success (never
more than held) and refunded on failure or cancel.

**Errors** are always `{"success": false, "error": {"code": "...", "message": "..."}}`,
with the statuses each route lists. **Rate limits** are per key and plan: answers carry
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`; `429` comes with
`Retry-After`.
"""


def create_app(
    service: Service,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    keyed_paths: tuple[str, ...] = (),
    upload_paths: tuple[str, ...] = (),
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
        title="Lipsync service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from this server by `install_docs`, not from a CDN
        redoc_url=None,
    )
    app.state.service = service
    install_error_handlers(app)
    install_docs(app)

    app.add_middleware(RateLimitHeaders)
    app.add_middleware(  # added last: runs first
        RequestGate, service=service, keyed_paths=keyed_paths, upload_paths=upload_paths
    )

    @app.get("/health", tags=["health"], summary="Liveness and queue depth")
    async def health() -> dict:
        now = await service.health()
        return {
            "status": "ok",
            "queued": now.queued,
            "processing": now.processing,
            "workers": now.workers,
        }

    for router in (studio.router, dev.router, dev.tts_router, account.router, files.router):
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
