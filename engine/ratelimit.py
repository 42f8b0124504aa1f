"""Request budgets by plan (seed 004: 10 / 60 / 300 a minute), one limiter for every door.

A fixed one-minute window per principal and bucket, in memory: simple, predictable for
clients (the reset is when the window restarts) and enough for one API process. The
service owns the only instance, so a key's budget is the same whether it submits over
REST or MCP, and a bot user's budget is the same in every chat.

Buckets: `write` and `read` count HTTP requests per API key (reads get ten times the
budget, because the seeds tell clients to poll every few seconds and polling must not
starve submissions); `submit` counts the jobs and estimates an account asks for, in
whichever door, since those are what make the server fetch, decode and render.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.errors import LipsyncError
from engine.vocabulary import Plan

PLAN_LIMITS = {Plan.FREE: 10, Plan.STARTER: 60, Plan.PRO: 300}
BUCKETS = ("read", "write", "submit", "sign_in")
READ_MULTIPLIER = 10
WINDOW = 60.0


class RateLimited(LipsyncError):
    """Over budget: `retry_after` says in how many seconds the window restarts."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int, limit: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit


@dataclass(frozen=True)
class Allowance:
    """What a taken request leaves: the headers REST clients read (`X-RateLimit-*`)."""

    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


@dataclass
class _Window:
    started: float
    used: int = 0


_WHAT = {
    "read": "reads",
    "write": "requests",
    "submit": "jobs and estimates",
    "sign_in": "sign-in attempts",
}
# Password guesses a minute, per email and per client address, whatever the plan.
SIGN_IN_ATTEMPTS = 10


@dataclass
class RateLimiter:
    limits: dict[str, int] = field(default_factory=lambda: dict(PLAN_LIMITS))
    clock: Callable[[], float] = time.monotonic
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict)

    def limit_for(self, plan: str, bucket: str) -> int:
        if bucket == "sign_in":
            return SIGN_IN_ATTEMPTS
        base = self.limits.get(plan, self.limits[Plan.FREE])
        return base * READ_MULTIPLIER if bucket == "read" else base

    def take(self, principal: str, plan: str, bucket: str) -> Allowance:
        """Count one request of `principal` in `bucket`, or raise `RateLimited` (uncounted)."""
        if bucket not in BUCKETS:
            raise ValueError(f"unknown rate-limit bucket {bucket!r}")
        limit = self.limit_for(plan, bucket)
        now = self.clock()
        window = self._windows.get((principal, bucket))
        if window is None or now - window.started >= WINDOW:
            self._forget_old(now)
            window = self._windows[(principal, bucket)] = _Window(started=now)
        reset = max(1, math.ceil(window.started + WINDOW - now))
        if window.used >= limit:
            raise RateLimited(
                f"too many {_WHAT[bucket]}: the {plan} plan allows {limit} a minute; "
                f"retry in {reset} s",
                retry_after=reset,
                limit=limit,
            )
        window.used += 1
        return Allowance(limit=limit, remaining=max(0, limit - window.used), reset=reset)

    def _forget_old(self, now: float) -> None:
        """Drop finished windows now and then, so idle principals do not pile up."""
        if len(self._windows) < 4096:
            return
        for key in [k for k, w in self._windows.items() if now - w.started >= WINDOW]:
            del self._windows[key]
