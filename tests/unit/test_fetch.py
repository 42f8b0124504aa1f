"""SSRF defences of user-URL fetching, with a scripted resolver and httpx.MockTransport."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from engine.errors import FetchError
from engine.media.fetch import decode_data_uri, fetch_to_file, is_public_address, post_json

PUBLIC = "93.184.216.34"
DNS = {
    "media.example": [PUBLIC],
    "evil.example": ["10.0.0.7"],
    "mixed.example": [PUBLIC, "127.0.0.1"],
}


async def resolve(host: str, port: int) -> list[str]:
    if host in DNS:
        return DNS[host]
    if host.replace(".", "").isdigit() or ":" in host:
        return [host]
    raise FetchError(f"the host {host} could not be resolved")


def transport(routes: dict[str, httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return routes.get(request.url.path, httpx.Response(404))

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fc00::1",
        "0.0.0.0",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_non_global_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)


def test_global_addresses_are_allowed() -> None:
    assert is_public_address(PUBLIC)
    assert is_public_address("2606:4700:4700::1111")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://media.example/a.mp3", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://127.0.0.1/a.mp3", "private or local address"),
        ("http://[::1]:8000/a.mp3", "private or local address"),
        ("http://evil.example/a.mp3", "private or local address"),
        ("http://mixed.example/a.mp3", "private or local address"),
        ("http://nowhere.invalid/a.mp3", "could not be resolved"),
        ("http:///a.mp3", "has no host"),
    ],
)
async def test_refused_urls_fetch_nothing(tmp_path: Path, url: str, message: str) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(FetchError, match=message):
        await fetch_to_file(
            url,
            tmp_path / "x",
            max_bytes=1000,
            timeout=5,
            resolve=resolve,
            transport=transport({}, seen),
        )
    assert seen == []


async def test_connects_to_the_checked_address_with_the_host_header(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    routes = {
        "/voice.mp3": httpx.Response(200, content=b"abc", headers={"content-type": "audio/mpeg"})
    }
    got = await fetch_to_file(
        "https://media.example/voice.mp3",
        tmp_path / "v.mp3",
        max_bytes=1000,
        timeout=5,
        resolve=resolve,
        transport=transport(routes, seen),
    )
    assert (tmp_path / "v.mp3").read_bytes() == b"abc"
    assert got.content_type == "audio/mpeg"
    assert seen[0].url.host == PUBLIC  # pinned: DNS is not asked again at connect time
    assert seen[0].headers["host"] == "media.example"
    assert seen[0].extensions["sni_hostname"] == "media.example"


async def test_a_redirect_to_a_private_address_is_refused(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    routes = {"/a.mp3": httpx.Response(302, headers={"location": "http://169.254.169.254/latest"})}
    with pytest.raises(FetchError, match="private or local"):
        await fetch_to_file(
            "http://media.example/a.mp3",
            tmp_path / "a",
            max_bytes=1000,
            timeout=5,
            resolve=resolve,
            transport=transport(routes, seen),
        )
    assert len(seen) == 1


async def test_a_public_redirect_is_followed(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    routes = {
        "/a.mp3": httpx.Response(301, headers={"location": "/b.mp3"}),
        "/b.mp3": httpx.Response(200, content=b"ok"),
    }
    await fetch_to_file(
        "http://media.example/a.mp3",
        tmp_path / "a",
        max_bytes=1000,
        timeout=5,
        resolve=resolve,
        transport=transport(routes, seen),
    )
    assert [r.url.path for r in seen] == ["/a.mp3", "/b.mp3"]


async def test_oversized_files_are_refused_and_not_kept(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    routes = {"/big": httpx.Response(200, content=b"x" * 5000)}
    with pytest.raises(FetchError, match="larger than"):
        await fetch_to_file(
            "http://media.example/big",
            tmp_path / "big",
            max_bytes=1000,
            timeout=5,
            resolve=resolve,
            transport=transport(routes, seen),
        )
    assert not (tmp_path / "big").exists()


async def test_http_errors_are_reported_with_their_status(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        await fetch_to_file(
            "http://media.example/missing",
            tmp_path / "m",
            max_bytes=1000,
            timeout=5,
            resolve=resolve,
            transport=transport({}, []),
        )


async def test_webhook_posts_refuse_plain_http_unless_allowed() -> None:
    seen: list[httpx.Request] = []
    routes = {"/hook": httpx.Response(204)}
    with pytest.raises(FetchError, match="only https"):
        await post_json(
            "http://media.example/hook",
            b"{}",
            {},
            timeout=5,
            resolve=resolve,
            transport=transport(routes, seen),
        )
    status = await post_json(
        "https://media.example/hook",
        b"{}",
        {},
        timeout=5,
        resolve=resolve,
        transport=transport(routes, seen),
    )
    assert status == 204 and seen[0].url.host == PUBLIC


def test_data_uris_decode_and_have_a_size_limit() -> None:
    assert decode_data_uri("data:audio/wav;base64,UklGRg==", max_bytes=100) == (
        b"RIFF",
        "audio/wav",
    )
    with pytest.raises(FetchError, match="limited"):
        decode_data_uri("data:audio/wav;base64," + "QUFB" * 100, max_bytes=100)
    with pytest.raises(FetchError, match="not valid base64"):
        decode_data_uri("data:audio/wav;base64,@@@", max_bytes=100)
