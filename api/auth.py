"""API key authentication, accepting both seeds' header styles on every route.

Seeds 000-003 send `Authorization: Bearer sk_...`; seed 004 sends `X-API-Key: ...`. Both
are accepted everywhere, so a client written for either dialect works against both.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.security import APIKeyHeader, HTTPBearer

from api.errors import ApiError
from api.ratelimit import check_rate
from engine.service import ApiKeyInfo, Service

bearer_scheme = HTTPBearer(auto_error=False, description="Authorization: Bearer sk_...")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: sk_...")


def presented_key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key", "").strip()


async def authenticate(request: Request) -> ApiKeyInfo:
    service: Service = request.app.state.service
    token = presented_key(request)
    if not token:
        raise ApiError(
            401,
            "unauthorized",
            "an API key is required: send 'Authorization: Bearer sk_...' or 'X-API-Key: sk_...'",
            {"WWW-Authenticate": "Bearer"},
        )
    key = await service.authenticate(token)
    if key is None:
        raise ApiError(
            401,
            "unauthorized",
            "the API key is not valid or was revoked",
            {"WWW-Authenticate": "Bearer"},
        )
    request.state.api_key = key
    check_rate(request, key)
    return key
