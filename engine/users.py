"""People who sign in to the portal; the `users` table's SQL lives here.

A person has two balances, as the seeds say ("API credits and user credits are independent
and cannot be exchanged"): an API account that every key they make draws on, and a user
account that the playground spends, like a chat user's. Passwords are hashed with argon2id
(argon2-cffi's defaults, RFC 9106's second recommended profile); a wrong email costs the
same time as a wrong password, so sign-in does not tell who has an account.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import dataclass

import aiosqlite
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from engine import ledger
from engine.db import Database, from_row
from engine.errors import Conflict, InvalidInput, NotFound

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures take an argon2 verify.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    id: str
    email: str
    admin: bool
    api_account_id: str
    user_account_id: str
    created_at: float


def _user(row: aiosqlite.Row) -> User:
    return from_row(User, row, admin=bool)


def check_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not EMAIL.match(email):
        raise InvalidInput("that does not look like an email address", code="invalid_email")
    return email


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"a password needs at least {MIN_PASSWORD} characters", code="weak_password"
        )


async def create(
    db: Database,
    email: str,
    password: str,
    *,
    admin: bool = False,
    api_credits: int = 0,
    user_credits: int = 0,
) -> User:
    """A new person with their two accounts, in one transaction."""
    email = check_email(email)
    check_password(password)
    digest = await asyncio.to_thread(_hasher.hash, password)
    user_id = f"usr_{secrets.token_hex(8)}"
    async with db.write() as conn:
        async with conn.execute("SELECT 1 FROM users WHERE email = ?", (email,)) as cursor:
            if await cursor.fetchone() is not None:
                raise Conflict("an account with this email exists; sign in instead")
        api = await ledger.create_account(
            conn,
            kind="api",
            owner=f"portal-api:{user_id}",
            name=email,
            credits=api_credits,
            note="API credits of a new account",
        )
        spend = await ledger.create_account(
            conn,
            kind="user",
            owner=f"portal:{user_id}",
            name=email,
            credits=user_credits,
            note="starter credits",
        )
        await conn.execute(
            "INSERT INTO users (id, email, password_hash, admin, api_account_id,"
            " user_account_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (user_id, email, digest, int(admin), api.id, spend.id, time.time()),
        )
    return await get(db, user_id)


async def verify(db: Database, email: str, password: str) -> User | None:
    """The person these credentials open, or None (in about the same time either way)."""
    row = await db.fetchone("SELECT * FROM users WHERE email = ?", (email.strip(),))
    digest = row["password_hash"] if row is not None else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, digest, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(digest):  # parameters raised since it was stored
        new = await asyncio.to_thread(_hasher.hash, password)
        async with db.write() as conn:
            await conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (new, row["id"]))
    return _user(row)


async def get(db: Database, user_id: str) -> User:
    row = await db.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))
    if row is None:
        raise NotFound(f"no user {user_id}")
    return _user(row)


async def find_by_email(db: Database, email: str) -> User | None:
    row = await db.fetchone("SELECT * FROM users WHERE email = ?", (email.strip(),))
    return _user(row) if row else None


async def list_all(db: Database, *, limit: int = 200) -> list[User]:
    rows = await db.fetchall("SELECT * FROM users ORDER BY created_at LIMIT ?", (limit,))
    return [_user(r) for r in rows]


async def set_admin(db: Database, user_id: str, admin: bool) -> User:
    async with db.write() as conn:
        await conn.execute("UPDATE users SET admin = ? WHERE id = ?", (int(admin), user_id))
    return await get(db, user_id)
