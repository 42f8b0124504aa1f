"""Signed webhook delivery with retries (Standard Webhooks headers).

Deliveries are rows in SQLite, made by scanning for finished jobs that asked for a webhook
and have none yet. So a job finished by a worker in another process, or just before a
restart, still gets its webhook, and a receiver that is down gets it later: attempts back
off exponentially (30 s, 1 min, 2 min, ... for hours) and every attempt is recorded.

Signature (https://www.standardwebhooks.com): headers `webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`. Each API
key has its own `whsec_` secret, derived from the server's master secret and the key id:
nothing is stored in clear in the database, and the server can always recompute it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from engine.config import Settings
from engine.db import Database, from_row
from engine.errors import FetchError, InvalidInput
from engine.jobs import Job, awaiting_webhook
from engine.keys import signing_key_of
from engine.media.fetch import check_url, post_json

log = logging.getLogger("lipsync.webhooks")

SECRET_FILE = "server-secret.key"
PayloadBuilder = Callable[[Job], dict[str, Any]]


def master_secret(data_dir: Path) -> bytes:
    """The server's own random secret, made once and kept readable by its owner only."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
    return path.read_bytes()


def key_webhook_secret(master: bytes, key_id: str) -> str:
    raw = hmac.new(master, f"webhook:{key_id}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(raw).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance: float = 300) -> bool:
    """What a receiver does; used by our tests and offered to integrators."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        message_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        signatures = lowered["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in signatures)


async def check_webhook_url(url: str, settings: Settings) -> None:
    """Refuse a webhook URL at submit: wrong scheme, private address (outside
    `webhooks.allow_private_networks`), unresolvable host. Delivery checks it again."""
    if len(url) > 2048:
        raise InvalidInput("the webhook URL is too long")
    try:
        await check_url(
            url,
            allow_private=settings.limits.allow_private_urls,
            allow_http=settings.webhooks.allow_http,
            allow_networks=settings.webhooks.private_networks,
        )
    except FetchError as exc:
        raise InvalidInput(f"webhook: {exc.message}", code="invalid_webhook") from None


@dataclass(frozen=True)
class Delivery:
    id: str
    job_id: str
    url: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: float | None
    delivered_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Delivery:
        return from_row(cls, row)


async def deliveries_for(db: Database, job_id: str) -> list[Delivery]:
    rows = await db.fetchall(
        "SELECT * FROM webhook_deliveries WHERE job_id = ? ORDER BY created_at", (job_id,)
    )
    return [Delivery.from_row(r) for r in rows]


class WebhookDispatcher:
    """Finds finished jobs that want a webhook, and delivers (and re-delivers) them."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        payload_for: PayloadBuilder,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        interval: float = 1.0,
    ) -> None:
        self.db = db
        self.settings = settings
        self.payload_for = payload_for
        self.transport = transport
        self.interval = interval
        self.master = master_secret(settings.data_path)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.enqueue_finished()
                await self.deliver_due()
            except Exception:
                log.exception("webhook round failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    async def enqueue_finished(self) -> int:
        finished = await awaiting_webhook(self.db, limit=100)
        for job in finished:
            body = json.dumps(self.payload_for(job), separators=(",", ":"))
            key_id = job.key_id or await signing_key_of(self.db, job.account_id)
            now = time.time()
            async with self.db.write() as conn:
                await conn.execute(
                    "INSERT OR IGNORE INTO webhook_deliveries (id, job_id, url, payload, key_id,"
                    " status, attempts, next_attempt_at, last_error, created_at)"
                    " VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, '', ?)",
                    (
                        f"msg_{secrets.token_hex(12)}",
                        job.id,
                        job.webhook,
                        body,
                        key_id,
                        now,
                        now,
                    ),
                )
        return len(finished)

    async def deliver_due(self) -> int:
        rows = await self.db.fetchall(
            "SELECT * FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at LIMIT 20",
            (time.time(),),
        )
        await asyncio.gather(*(self._attempt(row) for row in rows))
        return len(rows)

    async def _attempt(self, row: sqlite3.Row) -> None:
        body = row["payload"].encode()
        timestamp = int(time.time())
        headers = {"webhook-id": row["id"], "webhook-timestamp": str(timestamp)}
        if row["key_id"]:
            secret = key_webhook_secret(self.master, row["key_id"])
            headers["webhook-signature"] = sign(secret, row["id"], timestamp, body)
        code: int | None = None
        error = ""
        try:
            code = await post_json(
                row["url"],
                body,
                headers,
                timeout=self.settings.webhooks.timeout_seconds,
                allow_private=self.settings.limits.allow_private_urls,
                allow_http=self.settings.webhooks.allow_http,
                allow_networks=self.settings.webhooks.private_networks,
                transport=self.transport,
            )
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except FetchError as exc:
            error = exc.message
        attempts = row["attempts"] + 1
        now = time.time()
        if not error:
            status, next_at = "delivered", None
        elif attempts >= self.settings.webhooks.max_attempts:
            status, next_at = "failed", None
        else:
            status = "pending"
            next_at = now + self.settings.webhooks.first_retry_seconds * 2 ** (attempts - 1)
        async with self.db.write() as conn:
            await conn.execute(
                "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?,"
                " last_status_code = ?, last_error = ?, last_attempt_at = ?,"
                " delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END"
                " WHERE id = ?",
                (status, attempts, next_at, code, error, now, status, now, row["id"]),
            )
        if error:
            log.info(
                "webhook %s for job %s: attempt %d failed (%s)",
                row["id"],
                row["job_id"],
                attempts,
                error,
            )
