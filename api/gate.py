"""The door before the app: body limits and API keys checked from the headers alone.

FastAPI reads and parses a request's body before it runs the route's dependencies, so a
stranger's 2 GB upload would be spooled to disk, and a 400 MB JSON body parsed in memory,
before the key check said 401. This plain ASGI wrapper runs first:

- a request that carries a body to `/api/...` (or a door mounted beside it) without a
  valid key is answered
  401 at once (the key found is left on the request, so the route does not look it up again);
- a `Content-Length` over the route's limit is answered 413 at once;
- a body without a length (chunked) is counted as it streams and cut at the limit with 413.

Nothing here keeps a byte of body it will not use (an early answer drops, within bounds,
what the client is still sending, so that it can read the answer: see `_answer`).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import KEY_STATE
from api.errors import error_body
from engine.config import Settings
from engine.keys import presented_key, unauthorized_message
from engine.media.fetch import human_size
from engine.service import Service

UPLOAD_PATH = "/api/v1/files"
KEYED_PREFIXES = ("/api/",)
# Multipart framing around an uploaded file: boundaries, part headers, the file name.
MULTIPART_OVERHEAD = 64 * 1024
# After an early answer, how long and how much of the client's unwanted body is read and
# dropped so that closing the connection does not reset it before the answer is read.
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024 * 1024


def body_limit(settings: Settings, upload: bool) -> int:
    if upload:
        return settings.limits.max_upload_bytes + MULTIPART_OVERHEAD
    return settings.limits.json_body_bytes


class BodyTooLarge(Exception):
    """Raised from `receive` once a streamed body passes its limit."""


class RequestGate:
    """`keyed_paths`: further path prefixes that take a key, for doors composed beside the
    REST routes on this app (`/mcp`); `upload_paths`: their routes that take one uploaded
    file (the portal's playground), allowed the upload limit instead of the JSON one."""

    def __init__(
        self,
        app: ASGIApp,
        service: Service,
        keyed_paths: tuple[str, ...] = (),
        upload_paths: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.service = service
        self.keyed_prefixes = KEYED_PREFIXES + keyed_paths
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Request(scope).headers
        path: str = scope["path"]
        upload = path == UPLOAD_PATH or path in self.upload_paths
        limit = body_limit(self.service.settings, upload)
        length = _content_length(headers.get("content-length"))
        if length is None and "content-length" in headers:
            await _answer(scope, receive, send, 400, "invalid_request", "bad Content-Length")
            return
        has_body = bool(length) or "chunked" in headers.get("transfer-encoding", "").lower()
        if has_body and path.startswith(self.keyed_prefixes):
            token = presented_key(headers)
            key = await self.service.authenticate(token) if token else None
            if key is None:
                await _answer(
                    scope,
                    receive,
                    send,
                    401,
                    "unauthorized",
                    unauthorized_message(token),
                    {"WWW-Authenticate": "Bearer"},
                )
                return
            scope.setdefault("state", {})[KEY_STATE] = key
        if length is not None and length > limit:
            await _too_large(scope, receive, send, limit, upload)
            return
        if length is not None:
            await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, limit, upload)

    async def _counted(
        self, scope: Scope, receive: Receive, send: Send, limit: int, upload: bool
    ) -> None:
        """Run the app on a body of unknown length, answering 413 the moment it passes `limit`.

        Whatever the app does with the exception (FastAPI turns a failed body read into a
        400, the MCP SDK into its own error), the client gets the 413: the app's answer is
        dropped once the limit has been hit.
        """
        received = 0
        cut = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, cut
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if cut:
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not cut:
                raise
        if cut and not started:
            await _too_large(scope, receive, send, limit, upload)


def _content_length(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int, upload: bool) -> None:
    if upload:  # said as the operator configured it, without the multipart framing
        code, said = (
            "file_too_large",
            f"uploads are limited to {human_size(limit - MULTIPART_OVERHEAD)}",
        )
    else:
        code, said = "request_too_large", f"request bodies are limited to {human_size(limit)}"
    await _answer(scope, receive, send, 413, code, said, {"Connection": "close"})


async def _answer(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer before the body is read, and make sure the client gets to read the answer.

    A client still sending when the server closes the connection gets a TCP reset, and a
    reset throws away what the server sent: curl or httpx uploading a too-large file would
    see "connection reset" instead of the 413 (our limit tests did, under load). So, as web
    servers do on a "lingering close", the answer goes out whole but its end is held back
    while what the client is still sending is read and dropped, until it stops or
    `LINGER_SECONDS` or `LINGER_BYTES` run out. Nothing read is kept.
    """
    response = JSONResponse(error_body(code, message), status, headers=headers)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body, "more_body": True})
    await _drain(receive)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _drain(receive: Receive) -> None:
    """Read and drop the rest of a request body, within the linger bounds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LINGER_SECONDS
    dropped = 0
    while dropped <= LINGER_BYTES:
        left = deadline - loop.time()
        if left <= 0:
            return
        try:
            message = await asyncio.wait_for(receive(), left)
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return  # the client hung up
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
