"""A person's whole visit, in Chromium, through the real server: sign up, make an API key
and use it from code, revoke it, make a real video in the playground and watch it, find it
again under "My videos" and its charge under "Credits", sign out."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import av
import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from engine.service import Service
from tests.browser.conftest import API_STARTER, PASSWORD, Shoot
from tests.support.media import face_photo_path
from tests.support.portal_server import PortalServer
from tests.support.speech import speak

pytestmark = [pytest.mark.browser, pytest.mark.slow]
EMAIL = "ada@example.org"
RENDER_TIMEOUT = 60.0
# A player's duration once its metadata has loaded, or why it could not load (in 15 s).
METADATA = """(video) => new Promise((resolve) => {
  const answer = () => video.error
    ? "error " + video.error.code + " " + video.error.message : video.duration;
  if (video.readyState >= 1 || video.error) return resolve(answer());
  video.addEventListener("loadedmetadata", () => resolve(answer()), {once: true});
  video.addEventListener("error", () => resolve(answer()), {once: true});
  setTimeout(() => resolve("no metadata in 15 s (src: " + video.currentSrc + ")"), 15000);
})"""


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """About two seconds of espeak speech, and its length in seconds."""
    path = speak("Hello, this is my voice.", "en", tmp_path_factory.mktemp("voice") / "v.wav")
    with av.open(str(path)) as container:
        seconds = container.duration / 1e6
    assert 1.2 < seconds < 3.5, seconds
    return path, seconds


def test_a_visit_from_sign_up_to_a_video_and_sign_out(
    server: PortalServer,
    context: BrowserContext,
    page: Page,
    shoot: Shoot,
    voice: tuple[Path, float],
) -> None:
    sign_up(page, shoot)
    user_credits = server.settings.accounts.user_starter_credits
    key_id = make_use_and_revoke_a_key(server, page, shoot)
    job = make_a_video(server, page, shoot, voice, user_credits)
    see_it_under_my_videos(page, shoot, job)
    see_the_charge_under_credits(server, page, shoot, job, user_credits)

    # The revoked key is still listed as this person's; then signing out ends the session.
    assert key_id in {k.id for k in server.call(lambda s: _keys_of(s, EMAIL))}
    nav(page, "Sign out").click()
    expect(page).to_have_url(f"{server.base_url}/")
    expect(nav(page, "Sign in")).to_be_visible()
    assert "lipsync_session" not in {c["name"] for c in context.cookies()}
    page.goto("/keys")
    expect(page).to_have_url(f"{server.base_url}/signin?next=/keys")


def nav(page: Page, name: str) -> Locator:
    """A link (or the sign-out button) of the page's navigation bar."""
    bar = page.locator("header nav")
    return bar.get_by_role("link", name=name, exact=True).or_(
        bar.get_by_role("button", name=name, exact=True)
    )


def sign_up(page: Page, shoot: Shoot) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Make a photo or a video speak any voice"
    )
    expect(page.locator("table.prices tbody tr")).to_have_count(3)
    shoot(page, "home")
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/signup$"))
    shoot(page, "signup")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    expect(page).to_have_url(re.compile(r"/playground$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Playground")
    expect(page.locator("footer")).to_contain_text(f"Signed in as {EMAIL}")


def make_use_and_revoke_a_key(server: PortalServer, page: Page, shoot: Shoot) -> str:
    nav(page, "API keys").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    expect(nav(page, "API keys")).to_have_attribute("aria-current", "page")
    expect(nav(page, "Playground")).not_to_have_attribute("aria-current", "page")
    expect(page.get_by_text("No keys yet.")).to_be_visible()
    page.get_by_label("Name (optional)").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="Your new key “laptop”")).to_be_visible()
    secret = page.locator("#new-key").input_value()
    whsec = page.locator("#new-whsec").input_value()
    assert re.fullmatch(r"sk_[0-9a-f]+_\S+", secret), secret
    key_id = secret.split("_")[1]
    assert whsec.startswith("whsec_")
    assert whsec == server.service.webhook_secret(key_id)
    shoot(page, "keys-new")

    # The key works from code, sent either way, and spends the API balance.
    api = f"{server.base_url}/api/v1/balance"
    for headers in ({"Authorization": f"Bearer {secret}"}, {"X-API-Key": secret}):
        answer = httpx.get(api, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["balance"] == API_STARTER

    # Shown once: the list shows only its id, never the secret again.
    page.goto("/keys")
    row = page.locator("table.keys tbody tr", has_text="laptop")
    expect(row).to_contain_text(f"sk_{key_id}_…")
    expect(page.locator("#new-key")).to_have_count(0)
    assert secret not in page.content() and whsec not in page.content()

    row.get_by_role("button", name="Revoke").click()
    expect(page).to_have_url(re.compile(r"/keys$"))
    expect(page.locator("table.keys tbody tr", has_text="laptop")).to_contain_text("revoked")
    for headers in ({"Authorization": f"Bearer {secret}"}, {"X-API-Key": secret}):
        assert httpx.get(api, headers=headers, timeout=10).status_code == 401
    return key_id


def make_a_video(
    server: PortalServer,
    page: Page,
    shoot: Shoot,
    voice: tuple[Path, float],
    user_credits: int,
) -> dict:
    voice_path, voice_seconds = voice
    nav(page, "Playground").click()
    expect(page.locator("#balance")).to_have_text(str(user_credits))
    price = page.locator("#price")
    expect(price).to_have_text("Still needed: a photo, a voice.")
    make = page.locator("#make")
    expect(make).to_be_disabled()
    shoot(page, "playground-before")

    page.locator('input[name="image"]').set_input_files(face_photo_path())
    page.locator('input[name="audio"]').set_input_files(voice_path)
    expect(price).to_have_text(
        re.compile(rf"^[\d.]+ s of video: \d+ credits \(you have {user_credits}\)\.$"),
        timeout=30_000,
    )
    credits = int(re.search(r": (\d+) credits", price.inner_text()).group(1))
    rate = server.service.price_list().credits_per_second["480p"]  # the form's default
    expected = rate * max(server.settings.pricing.min_seconds, math.ceil(voice_seconds))
    assert credits == expected, (credits, expected)
    expect(make).to_be_enabled()
    expect(make).to_have_text(f"Make the video ({credits} credits)")

    with page.expect_response(
        lambda r: r.url.endswith("/playground/jobs") and r.request.method == "POST"
    ) as submitted:
        make.click()
    assert submitted.value.status == 202, submitted.value.text()
    job_id = submitted.value.json()["id"]

    # Watch it: the progress box shows where the job is until it is done.
    stage, bar = page.locator("#stage"), page.locator("#progress")
    expect(page.locator("#progress-box")).to_be_visible()
    seen: list[str] = []
    deadline = time.monotonic() + RENDER_TIMEOUT
    while not (seen and seen[-1].startswith(("Done:", "The video could not"))):
        assert time.monotonic() < deadline, f"no video in {RENDER_TIMEOUT} s; saw {seen}"
        text = stage.inner_text()
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        page.wait_for_timeout(100)
    job = server.call(lambda s: s.get_job(job_id))
    assert job.status == "completed", (job.error, seen)
    assert seen[0] == "Waiting for a free renderer…" or seen[0].endswith("%"), seen
    assert seen[-1] == f"Done: {round(job.output_seconds, 2)} s, {job.charged} credits."
    assert job.charged == credits
    assert bar.get_attribute("value") == "100"

    video = page.locator("video#result")
    expect(video).to_be_visible()
    duration = video.evaluate(METADATA)
    assert isinstance(duration, float | int), duration
    assert abs(duration - voice_seconds) <= 0.2, (duration, voice_seconds)
    output_url = server.service.output_url(job)
    assert output_url.endswith(".mp4") and video.get_attribute("src") == output_url

    link = page.get_by_role("link", name="Download the MP4")
    expect(link).to_be_visible()
    assert link.get_attribute("href") == output_url
    assert link.get_attribute("download") is not None
    mp4 = httpx.get(output_url, timeout=30)
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    assert mp4.content[4:8] == b"ftyp"
    expect(page.locator("#balance")).to_have_text(str(user_credits - credits))
    shoot(page, "playground-after")
    return {"id": job_id, "url": output_url, "charged": credits}


def see_it_under_my_videos(page: Page, shoot: Shoot, job: dict) -> None:
    nav(page, "My videos").click()
    card = page.locator(f'article[data-job="{job["id"]}"]')
    expect(card).to_contain_text("Talking photo")
    expect(card).to_contain_text("completed")
    expect(card).to_contain_text(f"{job['charged']} credits")
    player = card.locator("video")
    assert player.get_attribute("src") == job["url"]
    loaded = player.evaluate(METADATA)
    assert isinstance(loaded, float | int) and loaded > 1, loaded
    assert card.get_by_role("link", name="Download").get_attribute("href") == job["url"]
    shoot(page, "jobs")


def see_the_charge_under_credits(
    server: PortalServer, page: Page, shoot: Shoot, job: dict, user_credits: int
) -> None:
    nav(page, "Credits").click()
    user = page.locator("section.card", has=page.get_by_role("heading", name="User credits"))
    api = page.locator("section.card", has=page.get_by_role("heading", name="API credits"))
    left = user_credits - job["charged"]
    expect(user.locator(".balance strong")).to_have_text(str(left))
    rows = user.locator("table.ledger tbody tr")
    expect(rows.filter(has_text=f"charged {job['charged']} credits")).to_have_count(1)
    expect(rows.filter(has_text="reserve")).to_contain_text(str(-job["charged"]))
    expect(user.get_by_role("heading", level=3).first).to_contain_text(
        f"({job['charged']} credits)"
    )
    # The playground spent user credits only: the API balance and its ledger are untouched.
    expect(api.locator(".balance strong")).to_have_text(str(API_STARTER))
    expect(api.locator("table.ledger tbody tr")).to_have_count(1)
    expect(api.locator("table.ledger tbody tr")).to_contain_text("grant")
    balances = server.call(lambda s: _balances(s, EMAIL))
    assert balances == {"api": API_STARTER, "user": left}
    shoot(page, "credits")


async def _person(service: Service, email: str):  # type: ignore[no-untyped-def]
    return next(u for u in await service.list_users() if u.email == email)


async def _keys_of(service: Service, email: str) -> list:
    return await service.person_keys(await _person(service, email))


async def _balances(service: Service, email: str) -> dict[str, int]:
    person = await _person(service, email)
    api = await service.get_account(person.api_account_id)
    user = await service.get_account(person.user_account_id)
    return {"api": api.balance, "user": user.balance}
