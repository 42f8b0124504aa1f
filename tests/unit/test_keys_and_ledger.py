from __future__ import annotations

import pytest

from engine import ledger
from engine.errors import Conflict, InsufficientCredits
from engine.keys import split_key
from engine.service import Service


async def test_a_new_key_authenticates_and_only_its_hash_is_stored(service: Service) -> None:
    new = await service.create_api_key("ci", 30)
    assert new.secret.startswith(f"sk_{new.key.id}_")
    assert (await service.authenticate(new.secret)).account_id == new.key.account_id
    row = await service.db.fetchone("SELECT * FROM api_keys WHERE id = ?", (new.key.id,))
    secret = split_key(new.secret)[1]
    assert secret not in " ".join(str(v) for v in tuple(row))
    tampered = new.secret[:-1] + ("y" if new.secret.endswith("x") else "x")
    assert await service.authenticate(tampered) is None
    assert await service.authenticate("sk_nope_nope") is None
    assert await service.authenticate("") is None


async def test_a_revoked_key_no_longer_authenticates(service: Service) -> None:
    new = await service.create_api_key("old", 0)
    await service.revoke_api_key(new.key.id)
    assert await service.authenticate(new.secret) is None
    with pytest.raises(Conflict):
        await service.revoke_api_key(new.key.id)


async def test_the_admin_key_is_made_once(service: Service) -> None:
    first = await service.ensure_admin_key()
    assert first is not None and first.key.admin and first.key.balance == 1000
    assert await service.ensure_admin_key() is None


async def test_api_and_user_accounts_are_separate(service: Service) -> None:
    api = await service.create_api_key("k", 10)
    user = await service.user_account("telegram", 42)
    assert user.kind == "user" and user.balance == 50
    assert (await service.user_account("telegram", 42)).id == user.id
    assert user.id != api.key.account_id
    assert (await service.get_account(api.key.account_id)).balance == 10


async def test_grants_with_a_reference_apply_once(service: Service) -> None:
    user = await service.user_account("telegram", 7)
    assert await service.grant(user.id, 100, ref="stars:charge-1") is not None
    assert await service.grant(user.id, 100, ref="stars:charge-1") is None
    assert (await service.get_account(user.id)).balance == 150


async def test_reserve_never_takes_the_balance_below_zero(service: Service) -> None:
    user = await service.user_account("discord", 1)
    async with service.db.write() as conn:
        with pytest.raises(InsufficientCredits):
            await ledger.reserve(conn, user.id, "job-x", 51)
    assert (await service.get_account(user.id)).balance == 50


async def test_a_job_settles_only_once(service: Service) -> None:
    user = await service.user_account("discord", 2)
    async with service.db.write() as conn:
        await ledger.reserve(conn, user.id, "job-y", 20)
        await ledger.settle_charge(conn, user.id, "job-y", 20, 12)
    with pytest.raises(Exception, match="UNIQUE"):
        async with service.db.write() as conn:
            await ledger.settle_refund(conn, user.id, "job-y", 20, note="twice")
    entries = await service.ledger_entries(user.id)
    assert [e.kind for e in entries][:2] == ["charge", "reserve"]
    assert entries[0].credits == 12 and entries[0].amount == 8
    assert (await service.get_account(user.id)).balance == 50 - 12


async def test_a_revoked_key_is_refused_at_once_despite_the_auth_cache(service: Service) -> None:
    new = await service.create_api_key("cached", 0)
    assert await service.authenticate(new.secret) is not None  # now remembered
    await service.revoke_api_key(new.key.id)
    assert await service.authenticate(new.secret) is None


async def test_using_a_key_notes_when_it_was_last_used(service: Service) -> None:
    new = await service.create_api_key("poller", 0)
    assert new.key.last_used_at is None
    used = await service.authenticate(new.secret)
    assert used is not None and used.last_used_at is not None
    stored = await service.get_api_key(new.key.id)
    assert stored.last_used_at == pytest.approx(used.last_used_at)
