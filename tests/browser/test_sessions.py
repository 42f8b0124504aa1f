"""Sessions and CSRF in a real browser: what a forged or stale request can do (nothing),
how the session cookie is kept from scripts, and who may open the operator's page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from engine.job_request import JobRequest
from engine.service import Service
from tests.browser.conftest import DESK, PASSWORD, Shoot, sign_in_cookie
from tests.support.media import face_photo_path
from tests.support.portal_server import PortalServer
from tests.support.speech import speak

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SESSION = "lipsync_session"
FORM = "lipsync_form"


@pytest.fixture(scope="module")
def people(server: PortalServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A person with one finished video, and an operator (made as `lipsync users create
    --admin` would)."""
    folder = tmp_path_factory.mktemp("media")
    voice = speak("Good morning.", "en", folder / "voice.wav")

    async def make(service: Service) -> dict[str, str]:
        person = await service.sign_up("bea@example.org", PASSWORD)
        await service.sign_up("op@example.org", PASSWORD, admin=True, by_operator=True)
        order = JobRequest(
            model="lipsync-image", inputs={"image": str(face_photo_path()), "audio": str(voice)}
        )
        job = await service.submit(
            person.user_account_id, order, local_dirs=[folder, face_photo_path().parent]
        )
        assert (await service.wait(job.id, timeout=120)).status == "completed"
        return {"person": "bea@example.org", "admin": "op@example.org", "job": job.id}

    return server.call(make, timeout=150)


def session_cookie(context: BrowserContext) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == SESSION), None)


def sign_in_with_the_form(page: Page, email: str, password: str) -> None:
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


async def _user(service: Service, email: str):  # type: ignore[no-untyped-def]
    return next(u for u in await service.list_users() if u.email == email)


def key_count(server: PortalServer, email: str) -> int:
    async def count(service: Service) -> int:
        return len(await service.person_keys(await _user(service, email)))

    return server.call(count)


def test_a_key_is_made_only_with_the_sessions_csrf_token(
    server: PortalServer, context: BrowserContext, page: Page, people: dict[str, str]
) -> None:
    sign_in_cookie(server, context, people["person"])
    page.goto("/keys")
    token = page.locator('form[action="/keys"] input[name="csrf"]').input_value()
    assert len(token) >= 20
    before = key_count(server, people["person"])

    # The person's own cookie goes along (same browser), but the form's token does not.
    wrong = ("y" if token[0] == "x" else "x") + token[1:]  # one character off, never equal
    for form in ({"name": "forged"}, {"name": "forged", "csrf": wrong}):
        answer = context.request.post("/keys", form=form, max_redirects=0)
        assert answer.status == 400, (form, answer.status, answer.text()[:300])
        assert "The form had expired" in answer.text()
        assert key_count(server, people["person"]) == before

    # In the page itself, a tampered hidden field is refused the same way.
    page.locator('form[action="/keys"] input[name="csrf"]').evaluate("(i) => i.value = 'nope'")
    page.get_by_label("Name (optional)").fill("tampered")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_have_text("The form had expired; please try again.")
    expect(page.locator("#new-key")).to_have_count(0)
    assert key_count(server, people["person"]) == before

    # With the token it works: the refusals above were about the token, nothing else.
    answer = context.request.post("/keys", form={"name": "real", "csrf": token})
    assert answer.status == 201
    assert key_count(server, people["person"]) == before + 1

    # Revoking is guarded the same way.
    made = re.search(r'id="new-key"[^>]*>sk_([0-9a-f]+)_', answer.text())
    assert made is not None
    for form in ({}, {"csrf": "nope"}):
        refused = context.request.post(f"/keys/{made[1]}/revoke", form=form, max_redirects=0)
        assert refused.status == 400
    assert server.call(lambda s: s.get_api_key(made[1])).revoked_at is None


def test_a_page_on_another_site_cannot_post_the_form(
    server: PortalServer, context: BrowserContext, page: Page, people: dict[str, str]
) -> None:
    """A cross-site form POST (the classic CSRF) arrives without the Lax session cookie and
    without the token, and makes nothing. (Signed in with the form: the cookie as the
    server sets it.)"""
    sign_in_with_the_form(page, people["person"], PASSWORD)
    expect(page).to_have_url(re.compile(r"/playground$"))
    before = key_count(server, people["person"])
    evil = "http://evil.example/"
    page.route(
        evil,
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<form method="post" action="{server.base_url}/keys">'
            '<input name="name" value="evil"><input name="csrf" value="guess"></form>'
            "<script>document.forms[0].submit()</script>",
        ),
    )
    page.goto(evil)
    page.wait_for_url(re.compile(r"/signin\?next=/keys$"))  # not signed in, over there
    assert key_count(server, people["person"]) == before


def test_sign_in_needs_the_forms_double_submit_token(
    server: PortalServer, context: BrowserContext, page: Page, people: dict[str, str]
) -> None:
    email = people["person"]
    # Straight POSTs: no token at all, or one that is not the cookie's.
    for form in (
        {"email": email, "password": PASSWORD},
        {"email": email, "password": PASSWORD, "form_token": "made-up"},
    ):
        answer = context.request.post("/signin", form=form, max_redirects=0)
        assert answer.status == 400, (form, answer.status)
        assert "The form had expired" in answer.text()
        assert session_cookie(context) is None

    # A page whose token was swapped for another is refused too, with the form again.
    page.goto("/signin")
    assert any(c["name"] == FORM for c in context.cookies())
    page.locator('input[name="form_token"]').evaluate("(i) => i.value = 'swapped'")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The form had expired; please try again.")
    expect(page.get_by_label("Email")).to_have_value(email)
    assert session_cookie(context) is None


def test_the_session_cookie_is_httponly_lax_and_dies_with_sign_out(
    browser: Browser,
    server: PortalServer,
    context: BrowserContext,
    page: Page,
    people: dict[str, str],
) -> None:
    sign_in_with_the_form(page, people["person"], PASSWORD)
    expect(page).to_have_url(re.compile(r"/playground$"))
    cookie = session_cookie(context)
    assert cookie is not None
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/" and cookie["expires"] > 0  # kept across browser restarts
    assert FORM not in {c["name"] for c in context.cookies()}  # spent at sign-in
    seen_by_scripts = page.evaluate("document.cookie")
    assert SESSION not in seen_by_scripts and cookie["value"] not in seen_by_scripts

    page.locator("header nav").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server.base_url}/")
    assert session_cookie(context) is None

    # The old value was ended on the server, not only forgotten by this browser.
    assert server.call(lambda s: s.signed_in(cookie["value"])) is None
    stale = browser.new_context(base_url=server.base_url, viewport=DESK)
    try:
        stale.add_cookies([{**cookie}])
        other = stale.new_page()
        other.goto("/keys")
        expect(other).to_have_url(re.compile(r"/signin\?next=/keys$"))
    finally:
        stale.close()


def test_a_wrong_password_shows_an_error_and_signs_nobody_in(
    context: BrowserContext, page: Page, people: dict[str, str], shoot: Shoot
) -> None:
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        sign_in_with_the_form(page, people["person"], "not the password")
    assert posted.value.status == 401
    expect(page.get_by_role("alert")).to_have_text("the email or the password is not right")
    expect(page).to_have_url(re.compile(r"/signin$"))
    assert session_cookie(context) is None
    shoot(page, "signin-error")


def test_admin_is_for_admins_and_grants_credits(
    browser: Browser,
    server: PortalServer,
    context: BrowserContext,
    page: Page,
    people: dict[str, str],
    shoot: Shoot,
) -> None:
    person, admin = people["person"], people["admin"]
    user = server.call(lambda s: _user(s, person))

    # A normal person: 403, no Admin link, and a grant they post themselves does nothing.
    sign_in_cookie(server, context, person)
    answer = page.goto("/admin")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("This page is for the operator")
    expect(page.locator("header nav").get_by_role("link", name="Admin")).to_have_count(0)
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    forged = context.request.post(
        "/admin/grant",
        form={"account_id": user.user_account_id, "credits": "500", "csrf": csrf or ""},
        max_redirects=0,
    )
    assert forged.status == 403
    balance = server.call(lambda s: s.get_account(user.user_account_id)).balance

    # The operator, signed in with the form.
    operator = browser.new_context(base_url=server.base_url, viewport=DESK)
    try:
        page = operator.new_page()  # the operator's own browser
        sign_in_with_the_form(page, admin, PASSWORD)
        expect(page).to_have_url(re.compile(r"/playground$"))
        page.locator("header nav").get_by_role("link", name="Admin").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Admin")
        job_row = page.locator("table.jobs tbody tr", has_text=user.user_account_id)
        expect(job_row).to_contain_text("lipsync-image")
        expect(job_row).to_contain_text("completed")
        expect(page.locator(".stats")).to_contain_text("1 render slots here")
        row = page.locator("tr", has_text=person)
        expect(row.locator("td.num").nth(1)).to_have_text(str(balance))
        # Even the operator's grant needs the page's token.
        for form in ({}, {"csrf": "nope"}):
            form |= {"account_id": user.user_account_id, "credits": "500"}
            refused = operator.request.post("/admin/grant", form=form, max_redirects=0)
            assert refused.status == 400 and "The form had expired" in refused.text()
        assert server.call(lambda s: s.get_account(user.user_account_id)).balance == balance
        row.get_by_label("which balance").select_option(label="User")
        row.get_by_label("credits").fill("25")
        row.get_by_role("button", name="Grant").click()
        expect(page).to_have_url(re.compile(r"/admin$"))
        expect(page.locator("tr", has_text=person).locator("td.num").nth(1)).to_have_text(
            str(balance + 25)
        )
        shoot(page, "admin")
    finally:
        operator.close()
    after = server.call(lambda s: s.get_account(user.user_account_id))
    assert after.balance == balance + 25
    entries = server.call(lambda s: s.ledger_entries(user.user_account_id, limit=1))
    assert entries[0].kind == "grant" and entries[0].note == f"granted by {admin}"
