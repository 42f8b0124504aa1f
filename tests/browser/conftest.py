"""Browser tests: Playwright drives Debian's Chromium (never a downloaded one) against the
real server, one per test module, on a loopback port; nothing leaves this machine.

Screenshots of the pages go to `$LIPSYNC_SCREENSHOTS` (default `build/screenshots/`), at a
desk's size and at a phone's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright import sync_api

from engine.service import Service
from tests.support.portal_server import PortalServer

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
DESK = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SIZES = {"desk": DESK, "phone": PHONE}
PASSWORD = "correct horse battery"
# Starter API credits of a sign-up here, so that "the API balance is untouched" says more
# than "it is still zero".
API_STARTER = 100

# Assertions wait up to 10 s (not Playwright's 5): a loaded CI machine is slower than a desk.
sync_api.expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    """Chromium for one module: Playwright's own event loop ends with it, before any other
    module's asyncio tests run."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalServer]:
    folder = tmp_path_factory.mktemp("portal")
    with PortalServer(folder / "data", portal={"api_starter_credits": API_STARTER}) as running:
        yield running


@pytest.fixture
def context(browser: sync_api.Browser, server: PortalServer) -> Iterator[sync_api.BrowserContext]:
    made = browser.new_context(base_url=server.base_url, viewport=DESK)
    made.set_default_timeout(15_000)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def page(context: sync_api.BrowserContext) -> sync_api.Page:
    return context.new_page()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    folder = Path(os.environ.get("LIPSYNC_SCREENSHOTS") or REPO / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


Shoot = Callable[..., list[Path]]
VIDEOS_SETTLED = """() => [...document.querySelectorAll("video[src]")].every(
  (v) => v.readyState === 4 && v.networkState !== HTMLMediaElement.NETWORK_LOADING)"""
# What pokes out of <main>'s content box, left or right (a field too wide for a phone, a
# button beside a full-width input); boxes that scroll or clip their content are not asked.
STICKING_OUT = """() => {
  const main = document.querySelector("main");
  const style = getComputedStyle(main), edges = main.getBoundingClientRect();
  const left = edges.left + parseFloat(style.paddingLeft) - 1;
  const right = edges.right - parseFloat(style.paddingRight) + 1;
  const out = [];
  for (const el of main.querySelectorAll("*")) {
    let clipped = false;
    for (let up = el.parentElement; up !== main; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") { clipped = true; break; }
    }
    const box = el.getBoundingClientRect();
    if (!clipped && box.width > 0 && (box.right > right || box.left < left)) {
      const by = Math.round(Math.max(box.right - right, left - box.left));
      out.push(el.outerHTML.slice(0, 80) + " by " + by + "px");
    }
  }
  return out;
}"""


@pytest.fixture
def shoot(screenshot_dir: Path) -> Shoot:
    """`shoot(page, "keys")`: the whole page at both sizes, as keys-desk.png and
    keys-phone.png. At either width the page must not scroll sideways nor anything poke out
    of the main column (wide things scroll inside their own box), unless `fits=False`
    (pages that are not the portal's)."""

    def take(page: sync_api.Page, name: str, *, fits: bool = True) -> list[Path]:
        before = page.viewport_size
        taken = []
        if page.locator("video[src]:visible").count():
            # Players show a frame, not the loading spinner that fades out after loading.
            page.wait_for_function(
                "[...document.querySelectorAll('video[src]')].every(v => v.readyState >= 2)"
            )
            with contextlib.suppress(sync_api.TimeoutError):  # some browsers stop at a frame
                page.wait_for_function(VIDEOS_SETTLED, timeout=5_000)
            page.wait_for_timeout(1000)
        try:
            for size_name, size in SIZES.items():
                page.set_viewport_size(size)
                page.wait_for_timeout(50)  # one layout pass at the new width
                if fits:
                    wide = page.evaluate(
                        "document.documentElement.scrollWidth - document.documentElement"
                        ".clientWidth"
                    )
                    assert wide <= 0, f"{name}: {wide}px wider than the {size_name}'s screen"
                    sticking_out = page.evaluate(STICKING_OUT)
                    assert sticking_out == [], f"{name} on the {size_name}: {sticking_out}"
                path = screenshot_dir / f"{name}-{size_name}.png"
                page.screenshot(path=str(path), full_page=True)
                assert path.stat().st_size > 1000, path
                taken.append(path)
        finally:
            if before:
                page.set_viewport_size(before)
        return taken

    return take


def sign_in_cookie(server: PortalServer, context: sync_api.BrowserContext, email: str) -> str:
    """Sign `email` in through the service (not the form, whose attempts are rate limited
    per address) and give the browser the session cookie; returns the cookie's value."""

    async def sign_in(service: Service) -> str:
        return (await service.sign_in(email, PASSWORD, client=f"test:{email}")).token

    token = server.call(sign_in)
    context.add_cookies(
        [
            {
                "name": "lipsync_session",
                "value": token,
                "url": server.base_url,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    return token
