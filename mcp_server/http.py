"""MCP over streamable HTTP, authenticated by the service's API keys; `cli` mounts it at
`/mcp` beside the REST door.

Every HTTP request to `/mcp` must present a valid key (`Authorization: Bearer sk_...` or
`X-API-Key`), exactly as on the REST routes, or it is answered 401 with the same JSON
error shape before it reaches the MCP layer. The key found is put on the request, where
the tools read it: calls act for, and charge, that key's account. The key also becomes
the session's owner, so an MCP session opened with one key cannot be used with another.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from urllib.parse import urlsplit

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.config import Settings
from engine.errors import LipsyncError, Unauthorized
from engine.keys import presented_key, unauthorized_message
from engine.service import ApiKeyInfo, Service
from mcp_server.server import build_server
from mcp_server.tools import Caller

PATH = "/mcp"
STATE_KEY = "lipsync_api_key"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ApiKeyGate:
    """ASGI wrapper that lets through only requests with a valid API key, noting the key."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = presented_key(Request(scope).headers)
        key = await self.service.authenticate(token) if token else None  # cached lookups
        if key is None:
            refused = Unauthorized(unauthorized_message(token))
            body = {"success": False, "error": {"code": refused.code, "message": refused.message}}
            response = JSONResponse(body, refused.http_status, {"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[STATE_KEY] = key
        # The SDK binds a stateful session to the principal that opened it.
        scope["user"] = AuthenticatedUser(AccessToken(token=key.id, client_id=key.id, scopes=[]))
        await self.app(scope, receive, send)


async def caller_from_request(ctx: Context) -> Caller:
    """The account of the API key that `ApiKeyGate` found on this call's HTTP request."""
    request = ctx.request_context.request
    state = getattr(request, "state", None)
    key: ApiKeyInfo | None = getattr(state, STATE_KEY, None) if state is not None else None
    if key is None:
        raise LipsyncError("this call carries no API key", code="unauthorized")
    return Caller(account_id=key.account_id, key_id=key.id)


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection when the API listens on loopback only, as the SDK advises.

    A service bound to a public address sits behind names and proxies we cannot list;
    there the API key on every request is what keeps strangers out.
    """
    if settings.host not in LOOPBACK:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    public = urlsplit(settings.base_url)
    hosts = ["127.0.0.1", "localhost", "[::1]", "127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    if public.netloc:
        hosts.append(public.netloc)
        origins.append(f"{public.scheme}://{public.netloc}")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


class McpHttpDoor:
    """The MCP tools over streamable HTTP: an ASGI app to mount at `PATH`, and the context
    that runs its sessions (enter it for as long as the app serves).

    The SDK's session manager is a task group that serves MCP sessions; requests fail until
    `running()` is entered.
    """

    def __init__(self, service: Service) -> None:
        settings = service.settings
        server = build_server(service, caller_from_request)
        server.streamable_http_app(
            streamable_http_path=PATH,
            transport_security=transport_security(settings),
            max_request_body_size=settings.limits.json_body_bytes,
            host=settings.host,
        )
        self._manager = server.session_manager
        self.app: ASGIApp = ApiKeyGate(StreamableHTTPASGIApp(self._manager), service)

    def running(self) -> AbstractAsyncContextManager[None]:
        return self._manager.run()
