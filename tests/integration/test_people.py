"""People of the portal through the real service and SQLite: sign-up, sign-in, sessions,
keys that share one API balance, and the two balances that never mix."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from engine.ratelimit import SIGN_IN_ATTEMPTS, RateLimited
from engine.service import Service
from tests.conftest import make_settings

PASSWORD = "correct horse battery"


async def test_a_sign_up_gets_an_api_balance_and_a_user_balance(service: Service) -> None:
    person = await service.sign_up("Ada@Example.org", PASSWORD)
    api = await service.get_account(person.api_account_id)
    spend = await service.get_account(person.user_account_id)
    assert (api.kind, spend.kind) == ("api", "user")
    assert api.balance == service.settings.portal.api_starter_credits
    assert spend.balance == service.settings.accounts.user_starter_credits
    row = await service.db.fetchone("SELECT * FROM users WHERE id = ?", (person.id,))
    assert row["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in " ".join(str(value) for value in tuple(row))


@pytest.mark.parametrize(
    ("email", "password", "error"),
    [
        ("not-an-email", PASSWORD, InvalidInput),
        ("ada@example.org", "short", InvalidInput),
        ("ADA@example.org", PASSWORD, Conflict),  # the same address, other case
    ],
)
async def test_bad_sign_ups_are_refused(
    service: Service, email: str, password: str, error: type[Exception]
) -> None:
    await service.sign_up("ada@example.org", PASSWORD)
    with pytest.raises(error):
        await service.sign_up(email, password)
    assert len(await service.list_users()) == 1


async def test_a_closed_install_takes_sign_ups_from_the_operator_only(tmp_path: Path) -> None:
    service = await Service.open(make_settings(tmp_path / "d", portal={"signup": "closed"}))
    try:
        with pytest.raises(Forbidden):
            await service.sign_up("eve@example.org", PASSWORD)
        made = await service.sign_up("bob@example.org", PASSWORD, admin=True, by_operator=True)
        assert made.admin
    finally:
        await service.close()


async def test_sign_in_opens_a_session_until_sign_out(service: Service) -> None:
    person = await service.sign_up("ada@example.org", PASSWORD)
    signed = await service.sign_in("ADA@example.org ", PASSWORD, client="10.0.0.1")
    assert signed.user.id == person.id
    found = await service.signed_in(signed.token)
    assert found is not None and found.user.id == person.id
    assert found.session.csrf_ok(signed.session.csrf_token) and not found.session.csrf_ok("x")
    stored = await service.db.fetchone("SELECT id FROM sessions")
    assert stored["id"] != signed.token  # only its hash is kept
    await service.sign_out(signed.token)
    assert await service.signed_in(signed.token) is None


async def test_wrong_passwords_and_unknown_emails_read_the_same(service: Service) -> None:
    await service.sign_up("ada@example.org", PASSWORD)
    with pytest.raises(Unauthorized) as wrong:
        await service.sign_in("ada@example.org", "wrong password!", client="a")
    with pytest.raises(Unauthorized) as unknown:
        await service.sign_in("nobody@example.org", PASSWORD, client="b")
    assert wrong.value.message == unknown.value.message


async def test_password_guessing_is_limited_per_email_and_per_client(service: Service) -> None:
    await service.sign_up("ada@example.org", PASSWORD)
    for i in range(SIGN_IN_ATTEMPTS):
        with pytest.raises(Unauthorized):
            await service.sign_in("ada@example.org", f"guess number {i}", client=f"c{i}")
    with pytest.raises(RateLimited):  # even the right password, from a new address
        await service.sign_in("ada@example.org", PASSWORD, client="fresh")
    for i in range(SIGN_IN_ATTEMPTS):
        with pytest.raises(Unauthorized):
            await service.sign_in(f"u{i}@example.org", "whatever it is", client="one-host")
    with pytest.raises(RateLimited):
        await service.sign_in("other@example.org", "whatever it is", client="one-host")


async def test_a_persons_keys_draw_on_one_api_balance_and_only_they_revoke_them(
    service: Service,
) -> None:
    ada = await service.sign_up("ada@example.org", PASSWORD)
    bob = await service.sign_up("bob@example.org", PASSWORD)
    await service.grant(ada.api_account_id, 100)
    laptop = await service.create_person_key(ada, "laptop")
    ci = await service.create_person_key(ada, "CI")
    for new in (laptop, ci):
        key = await service.authenticate(new.secret)
        assert key is not None and key.account_id == ada.api_account_id and key.balance == 100
    assert [k.name for k in await service.person_keys(ada)] == ["laptop", "CI"]
    assert await service.person_keys(bob) == []
    with pytest.raises(NotFound):
        await service.revoke_person_key(bob, laptop.key.id)
    await service.revoke_person_key(ada, laptop.key.id)
    assert await service.authenticate(laptop.secret) is None
    assert await service.authenticate(ci.secret) is not None
    # The playground's balance is another account: the grant did not reach it.
    spend = await service.get_account(ada.user_account_id)
    assert spend.balance == service.settings.accounts.user_starter_credits
