"""REST's per-key request budgets, counted by the service's one limiter (`engine.ratelimit`).

Every authenticated request takes one from its key's `read` (GET, HEAD) or `write` bucket;
the answer carries `X-RateLimit-*`, and a refusal is 429 with `Retry-After`.
"""

from __future__ import annotations

from fastapi import Request

from api.errors import ApiError
from engine.ratelimit import RateLimited
from engine.service import ApiKeyInfo, Service


def check_rate(request: Request, key: ApiKeyInfo) -> None:
    if key.admin:  # the operator's own key: limits protect the operator, not from them
        return
    service: Service = request.app.state.service
    bucket = "read" if request.method in ("GET", "HEAD") else "write"
    try:
        allowance = service.rate_limiter.take(f"key:{key.id}", key.plan, bucket)
    except RateLimited as exc:
        raise ApiError(
            429,
            exc.code,
            exc.message,
            {
                "X-RateLimit-Limit": str(exc.limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(exc.retry_after),
                "Retry-After": str(exc.retry_after),
            },
        ) from None
    request.state.rate_headers = allowance.headers()
