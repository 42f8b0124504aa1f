"""Signed-in browser sessions; the `sessions` table's SQL lives here.

The browser holds a random token (256 bits) in an HttpOnly cookie; the table holds only its
SHA-256, so a copy of the database signs nobody in. Each session has its own CSRF token,
which the portal puts in every form and checks on every POST (a synchronizer token: a
page of another site can make the browser send the cookie, never read the token).
Sessions end at `expires_at`, at sign-out, or when the person's password changes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from engine.db import Database, from_row


@dataclass(frozen=True)
class Session:
    id: str  # the SHA-256 of the cookie's token
    user_id: str
    csrf_token: str
    created_at: float
    expires_at: float

    def csrf_ok(self, presented: str) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf_token, presented)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(db: Database, user_id: str, lifetime: float) -> tuple[str, Session]:
    """A new session: (the token for the cookie, the session)."""
    token = secrets.token_urlsafe(32)
    now = time.time()
    session = Session(
        id=_digest(token),
        user_id=user_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
    )
    async with db.write() as conn:
        await conn.execute(
            "INSERT INTO sessions (id, user_id, csrf_token, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (session.id, user_id, session.csrf_token, now, session.expires_at),
        )
        # Finished sessions are dropped as new ones start: the table stays small.
        await conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
    return token, session


async def find(db: Database, token: str) -> Session | None:
    if not token:
        return None
    row = await db.fetchone(
        "SELECT * FROM sessions WHERE id = ? AND expires_at > ?", (_digest(token), time.time())
    )
    return from_row(Session, row) if row else None


async def end(db: Database, token: str) -> None:
    async with db.write() as conn:
        await conn.execute("DELETE FROM sessions WHERE id = ?", (_digest(token),))


async def end_all(db: Database, user_id: str) -> None:
    async with db.write() as conn:
        await conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
