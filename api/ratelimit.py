"""Per-key rate limits by plan (seed 004: 10 / 60 / 300 requests a minute).

A fixed one-minute window per key and bucket, in memory: simple, predictable for clients
(`X-RateLimit-Reset` is when the window restarts) and enough for one API process. Reads
(polling a job, listing) get ten times the plan's budget in a bucket of their own, because
the seeds tell clients to poll every few seconds and polling must not starve submissions.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from fastapi import Request

from api.errors import ApiError
from engine.service import ApiKeyInfo

PLAN_LIMITS = {"free": 10, "starter": 60, "pro": 300}
READ_MULTIPLIER = 10
WINDOW = 60.0


@dataclass
class _Window:
    started: float
    used: int = 0


@dataclass
class RateLimiter:
    limits: dict[str, int] = field(default_factory=lambda: dict(PLAN_LIMITS))
    clock: object = time.monotonic
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict)

    def check(self, request: Request, key: ApiKeyInfo) -> None:
        if key.admin:  # the operator's own key: limits protect the operator, not from them
            return
        is_read = request.method in ("GET", "HEAD")
        bucket = "read" if is_read else "write"
        limit = self.limits.get(key.plan, self.limits["free"]) * (READ_MULTIPLIER if is_read else 1)
        now = self.clock()  # type: ignore[operator]
        window = self._windows.get((key.id, bucket))
        if window is None or now - window.started >= WINDOW:
            window = self._windows[(key.id, bucket)] = _Window(started=now)
        reset = max(1, math.ceil(window.started + WINDOW - now))
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - window.used - 1)),
            "X-RateLimit-Reset": str(reset),
        }
        if window.used >= limit:
            headers["X-RateLimit-Remaining"] = "0"
            headers["Retry-After"] = str(reset)
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests: the {key.plan} plan allows {limit} a minute here; "
                f"retry in {reset} s",
                headers,
            )
        window.used += 1
        request.state.rate_headers = headers
