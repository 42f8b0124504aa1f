"""The API's docs pages render in a browser with the internet cut off: Swagger UI and ReDoc
load everything from this server, and no request leaves its origin."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.conftest import Shoot
from tests.support.portal_server import PortalServer

pytestmark = pytest.mark.browser
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}


class LeftTheOrigin(AssertionError):
    """A docs page asked another host for something (a CDN, a font, a logo)."""


class Offline:
    """Cuts the page off from every other host and remembers what tried to get out."""

    def __init__(self, context: BrowserContext, origin: str) -> None:
        self.origin = origin
        self.requested: list[str] = []
        self.blocked: list[str] = []
        context.on("request", lambda request: self.requested.append(request.url))
        context.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOOPBACK or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")

    def check(self) -> None:
        if self.blocked or self.foreign():
            raise LeftTheOrigin(f"blocked: {self.blocked}; foreign: {self.foreign()}")

    def foreign(self) -> list[str]:
        """Requests that went anywhere but the server's own origin."""
        return [
            url
            for url in self.requested
            if not url.startswith((self.origin + "/", "data:", "blob:"))
        ]


@pytest.fixture
def offline(context: BrowserContext, server: PortalServer) -> Offline:
    return Offline(context, server.base_url)


def test_swagger_ui_renders_the_api_from_this_server_alone(
    server: PortalServer, page: Page, offline: Offline, shoot: Shoot
) -> None:
    page.goto("/")
    page.locator("header nav").get_by_role("link", name="API docs").click()
    expect(page).to_have_url(f"{server.base_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Lipsync service")
    operations = page.locator(".swagger-ui .opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() >= 10
    for path in ("/api/v1/lipsync-image", "/api/v1/balance", "/api/v1/files"):
        expect(page.locator(".opblock-summary-path", has_text=path).first).to_be_visible()
    # Opening one shows its parameters and answers, from the OpenAPI document.
    page.locator(".opblock-summary-path", has_text="/api/v1/balance").first.click()
    expect(page.locator(".opblock.is-open .responses-wrapper")).to_contain_text("401")
    shoot(page, "docs", fits=False)
    page.wait_for_load_state("networkidle")  # late requests (images, fonts) too
    offline.check()
    assert any(url.endswith("/openapi.json") for url in offline.requested)


def test_redoc_renders_the_api_from_this_server_alone(
    server: PortalServer, page: Page, offline: Offline, shoot: Shoot
) -> None:
    page.goto("/redoc")
    expect(page.get_by_role("heading", level=1).first).to_contain_text("Lipsync service")
    expect(page.locator("[data-section-id^='operation/']").first).to_be_attached()
    assert page.locator("[data-section-id^='operation/']").count() >= 10
    expect(page.get_by_text("/api/v1/lipsync-image").first).to_be_attached()
    shoot(page, "redoc", fits=False)
    page.wait_for_load_state("networkidle")  # late requests (images, fonts) too
    offline.check()
