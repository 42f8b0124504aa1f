"""API keys: `sk_<id>_<secret>`, stored as the id plus a SHA-256 of the secret.

The secret is 192 random bits, so a fast hash is as safe as a slow one here (there is no
dictionary to try); the id lets us find the row without comparing against every hash, and
the hash is compared in constant time. The clear key exists only in the creator's output.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass

import aiosqlite

PREFIX = "sk"


@dataclass(frozen=True)
class ApiKey:
    id: str
    account_id: str
    name: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ApiKey:
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            name=row["name"],
            created_at=row["created_at"],
            last_used_at=row["last_used_at"],
            revoked_at=row["revoked_at"],
        )


def new_secret() -> tuple[str, str, str]:
    """A fresh key: (key id, the full key to show once, the hash to store)."""
    key_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(24)
    return key_id, f"{PREFIX}_{key_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(token: str) -> tuple[str, str] | None:
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


async def insert(
    conn: aiosqlite.Connection,
    key_id: str,
    account_id: str,
    name: str,
    digest: str,
    *,
    admin: bool = False,
) -> None:
    await conn.execute(
        "INSERT INTO api_keys (id, account_id, name, secret_hash, admin, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (key_id, account_id, name, digest, int(admin), time.time()),
    )


def matches(row: sqlite3.Row, secret: str) -> bool:
    return hmac.compare_digest(row["secret_hash"], hash_secret(secret))
