"""API key authentication, accepting both seeds' header styles on every route.

Seeds 000-003 send `Authorization: Bearer sk_...`; seed 004 sends `X-API-Key: ...`. Both
are accepted everywhere, so a client written for either dialect works against both.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.ratelimit import check_rate
from engine.keys import presented_key, unauthorized_message
from engine.service import ApiKeyInfo, Service

# Declared for OpenAPI (Swagger's "Authorize" fills them in, "Try it out" sends them); the
# key itself is read by `engine.keys.presented_key`, the same way the gate reads it.
bearer_scheme = HTTPBearer(
    scheme_name="bearerAuth",
    bearerFormat="sk_...",
    auto_error=False,
    description="`Authorization: Bearer sk_...` (seeds 000-003)",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    scheme_name="apiKeyAuth",
    auto_error=False,
    description="`X-API-Key: sk_...` (seed 004)",
)


KEY_STATE = "api_key"  # where `RequestGate` leaves the key it already checked


async def authenticate(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    _api_key: Annotated[str | None, Security(api_key_scheme)] = None,
) -> ApiKeyInfo:
    """The key of a request: either header, on every route (either scheme satisfies the
    OpenAPI `security` of a route)."""
    service: Service = request.app.state.service
    key: ApiKeyInfo | None = getattr(request.state, KEY_STATE, None)
    if key is None:
        token = presented_key(request.headers)
        key = await service.authenticate(token) if token else None
        if key is None:
            raise ApiError(
                401, "unauthorized", unauthorized_message(token), {"WWW-Authenticate": "Bearer"}
            )
    request.state.api_key = key
    check_rate(request, key)
    return key
