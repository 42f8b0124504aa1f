"""API keys: `sk_<id>_<secret>`, stored as the id plus a SHA-256 of the secret; the
`api_keys` table's SQL lives here and nowhere else.

The secret is 192 random bits, so a fast hash is as safe as a slow one here (there is no
dictionary to try); the id lets us find the row without comparing against every hash, and
the hash is compared in constant time. The clear key exists only in the creator's output.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiosqlite

from engine.db import Database, from_row
from engine.errors import Conflict, NotFound

PREFIX = "sk"
# `last_used_at` is written at most this often per key: a client polling every second
# would otherwise turn every read into a write.
LAST_USED_RESOLUTION = 60.0

# A key with its account's balance and plan: what a door shows and checks.
_SELECT = "SELECT k.*, a.balance, a.plan FROM api_keys k JOIN accounts a ON a.id = k.account_id"


@dataclass(frozen=True)
class ApiKeyInfo:
    id: str
    name: str
    account_id: str
    balance: int
    plan: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None
    admin: bool = False


def _info(row: aiosqlite.Row) -> ApiKeyInfo:
    return from_row(ApiKeyInfo, row, admin=bool)


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


def presented_key(headers: Mapping[str, str]) -> str:
    """The key an HTTP request presents, in either seed's style (`Authorization: Bearer
    sk_...` for seeds 000-003, `X-API-Key` for seed 004); "" when there is none."""
    header = headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return headers.get("x-api-key", "").strip()


def unauthorized_message(token: str) -> str:
    """Why a request was refused: no key at all, or one that does not open anything."""
    if not token:
        return "an API key is required: send 'Authorization: Bearer sk_...' or 'X-API-Key: sk_...'"
    return "the API key is not valid or was revoked"


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


async def any_exist(db: Database) -> bool:
    return await db.fetchone("SELECT 1 FROM api_keys LIMIT 1") is not None


async def find_active(db: Database, token: str) -> ApiKeyInfo | None:
    """The active key a presented `sk_...` token opens, or None (constant-time compare)."""
    parts = split_key(token or "")
    if parts is None:
        return None
    key_id, secret = parts
    row = await db.fetchone(f"{_SELECT} WHERE k.id = ? AND k.revoked_at IS NULL", (key_id,))
    if row is None or not hmac.compare_digest(row["secret_hash"], hash_secret(secret)):
        return None
    return _info(row)


async def get(db: Database, key_id: str) -> ApiKeyInfo:
    row = await db.fetchone(f"{_SELECT} WHERE k.id = ?", (key_id,))
    if row is None:
        raise NotFound(f"no API key {key_id}")
    return _info(row)


async def list_all(db: Database) -> list[ApiKeyInfo]:
    return [_info(r) for r in await db.fetchall(f"{_SELECT} ORDER BY k.created_at")]


async def list_for_account(db: Database, account_id: str) -> list[ApiKeyInfo]:
    rows = await db.fetchall(
        f"{_SELECT} WHERE k.account_id = ? ORDER BY k.created_at", (account_id,)
    )
    return [_info(r) for r in rows]


async def revoke(db: Database, key_id: str) -> ApiKeyInfo:
    async with db.write() as conn:
        cursor = await conn.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (time.time(), key_id),
        )
        changed = cursor.rowcount
    info = await get(db, key_id)
    if not changed:
        raise Conflict(f"API key {key_id} is already revoked")
    return info


async def mark_used(db: Database, key: ApiKeyInfo) -> ApiKeyInfo:
    """Note that `key` was just used (`lastUsedAt`), at most once a LAST_USED_RESOLUTION."""
    now = time.time()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return key
    async with db.write() as conn:
        await conn.execute(
            "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND"
            " (last_used_at IS NULL OR last_used_at < ?)",
            (now, key.id, now - LAST_USED_RESOLUTION),
        )
    return ApiKeyInfo(**{**key.__dict__, "last_used_at": now})


async def has_admin_key(db: Database, account_id: str) -> bool:
    """Whether an active admin key draws on this account (the operator's own)."""
    row = await db.fetchone(
        "SELECT 1 FROM api_keys WHERE account_id = ? AND admin = 1 AND revoked_at IS NULL",
        (account_id,),
    )
    return row is not None


async def signing_key_of(db: Database, account_id: str) -> str | None:
    """The key whose `whsec_` secret signs this account's webhooks (an API account has one
    key; other accounts, none)."""
    row = await db.fetchone("SELECT id FROM api_keys WHERE account_id = ?", (account_id,))
    return row["id"] if row else None
