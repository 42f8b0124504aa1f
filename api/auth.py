"""API key authentication, accepting both seeds' header styles on every route.

Seeds 000-003 send `Authorization: Bearer sk_...`; seed 004 sends `X-API-Key: ...`. Both
are accepted everywhere, so a client written for either dialect works against both.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.security import APIKeyHeader, HTTPBearer

from api.errors import ApiError
from api.ratelimit import check_rate
from engine.keys import presented_key, unauthorized_message
from engine.service import ApiKeyInfo, Service

bearer_scheme = HTTPBearer(auto_error=False, description="Authorization: Bearer sk_...")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: sk_...")


KEY_STATE = "api_key"  # where `RequestGate` leaves the key it already checked


async def authenticate(request: Request) -> ApiKeyInfo:
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
