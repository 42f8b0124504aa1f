"""A voice recorded in the browser: Chromium's fake microphone (a beeping tone) stands in for
a person, MediaRecorder's WebM/Opus is uploaded like a chosen file, and the server measures
and prices it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright import sync_api
from playwright.sync_api import Page, expect

from tests.browser.conftest import CHROMIUM, DESK, PASSWORD
from tests.support.media import face_photo_path
from tests.support.portal_server import PortalServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]
EMAIL = "rec@example.org"
FAKE_MICROPHONE = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", *FAKE_MICROPHONE]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: sync_api.Browser, server: PortalServer) -> Iterator[Page]:
    context = browser.new_context(
        base_url=server.base_url, viewport=DESK, permissions=["microphone"]
    )
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_voice_recorded_in_the_page_is_uploaded_measured_and_priced(page: Page) -> None:
    page.goto("/signup")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    expect(page).to_have_url(re.compile(r"/playground$"))
    page.locator('input[name="image"]').set_input_files(face_photo_path())
    price = page.locator("#price")
    expect(price).to_have_text("Still needed: a voice.")

    record = page.locator('button[data-record="audio"]')
    record.click()
    expect(record).to_have_text("■ Stop recording")
    page.wait_for_timeout(2500)
    record.click()
    expect(record).to_have_text("● Record again")

    # About 2.5 s of sound: billed at the 5-second minimum, 10 credits at 480p.
    expect(price).to_have_text(re.compile(r"^\d+(\.\d+)? s of video: 10 credits"))
    seconds = float(price.inner_text().split(" s of video")[0])
    assert 1.5 < seconds < 4.0, price.inner_text()
    expect(page.get_by_role("button", name="Make the video (10 credits)")).to_be_enabled()
    expect(page.locator("#problem")).to_be_hidden()
