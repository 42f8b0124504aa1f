"""SSRF defences of user-URL fetching, with a scripted resolver and httpx.MockTransport."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from engine.errors import FetchError, InvalidInput
from engine.media.fetch import (
    check_url,
    decode_data_uri,
    fetch_to_file,
    is_public_address,
    post_json,
    system_resolve,
)
from engine.webhooks import check_webhook_url
from tests.conftest import make_settings

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
        "::",
        "2001::1",  # Teredo
        "2001:0:5db8:d822::1",  # Teredo with a public server address
        "ff0e::1",  # global-scope multicast
        "fe80::1%eth0",
        "2001:db8::1",
        "not-an-address",
    ],
)
def test_non_global_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)


def test_global_addresses_are_allowed() -> None:
    assert is_public_address(PUBLIC)
    assert is_public_address("2606:4700:4700::1111")
    assert is_public_address(f"::ffff:{PUBLIC}")


# Forms Python 3.11's `ipaddress` calls global (and the old policy let through) although they
# embed or reach non-public space.
EMBEDDED_OR_SPECIAL = [
    ("64:ff9b::127.0.0.1", "NAT64 of loopback"),
    ("64:ff9b::10.0.0.1", "NAT64 of 10/8"),
    ("64:ff9b::169.254.169.254", "NAT64 of cloud metadata"),
    ("64:ff9b::192.168.1.1", "NAT64 of 192.168/16"),
    ("64:ff9b::100.64.0.1", "NAT64 of shared 100.64/10"),
    ("64:ff9b::0.0.0.0", "NAT64 of unspecified"),
    ("64:ff9b::224.0.0.1", "NAT64 of multicast"),
    ("64:ff9b::198.18.0.1", "NAT64 of benchmarking"),
    ("64:ff9b:1::93.184.216.34", "local-use NAT64, even of a public IPv4"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("2002:7f00:1::", "6to4 of loopback"),
    ("2002:a00:1::1", "6to4 of 10/8"),
    ("2002:a9fe:a9fe::1", "6to4 of cloud metadata"),
    ("2002:c0a8:101::1", "6to4 of 192.168/16"),
    ("2002:c000:201::1", "6to4 of documentation"),
    ("::127.0.0.1", "IPv4-compatible loopback"),
    ("::10.0.0.1", "IPv4-compatible 10/8"),
    ("::169.254.169.254", "IPv4-compatible cloud metadata"),
    ("::172.16.0.1", "IPv4-compatible 172.16/12"),
    ("::100.64.0.1", "IPv4-compatible shared"),
    ("::ffff:0:127.0.0.1", "IPv4-translated loopback"),
    ("::ffff:0:10.0.0.1", "IPv4-translated 10/8"),
    ("::ffff:0:169.254.169.254", "IPv4-translated cloud metadata"),
    ("::ffff:0:192.168.0.1", "IPv4-translated 192.168/16"),
    ("fec0::1", "site-local"),
    ("feff::1", "site-local, top of fec0::/10"),
    ("3fff::1", "IPv6 documentation (RFC 9637)"),
    ("4000::1", "IPv6 reserved, outside 2000::/3"),
    ("5f00::1", "SRv6 SIDs (RFC 9602)"),
    ("192.0.0.8", "IETF protocol assignments 192.0.0.0/24"),
    ("192.88.99.1", "deprecated 6to4 relay anycast"),
]


@pytest.mark.parametrize(
    "address", [a for a, _ in EMBEDDED_OR_SPECIAL], ids=[w for _, w in EMBEDDED_OR_SPECIAL]
)
def test_embedded_and_special_forms_are_refused(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda v4: f"64:ff9b::{v4}",
        lambda v4: "2002:{:x}:{:x}::1".format(*divmod(int(ipaddress.IPv4Address(v4)), 1 << 16)),
        lambda v4: f"::{v4}",
        lambda v4: f"::ffff:0:{v4}",
    ],
    ids=["NAT64", "6to4", "IPv4-compatible", "IPv4-translated"],
)
def test_an_embedded_ipv4_gets_the_verdict_of_the_ipv4_itself(wrap: Callable[[str], str]) -> None:
    for v4 in (PUBLIC, "1.1.1.1", "127.0.0.1", "10.0.0.7", "169.254.169.254", "100.64.0.1"):
        assert is_public_address(wrap(v4)) == is_public_address(v4), wrap(v4)


@pytest.mark.parametrize("host", ["0177.0.0.1", "127.1", "2130706433", "0x7f.0.0.1"])
async def test_odd_ipv4_spellings_resolve_to_loopback_and_are_refused(host: str) -> None:
    with pytest.raises(FetchError, match="private or local"):
        await check_url(f"http://{host}/a.mp3")  # the real system resolver
    _, pinned = await check_url(f"http://{host}/a.mp3", allow_private=True)
    assert pinned == "127.0.0.1"  # the checked address is pinned, never the raw spelling


@pytest.mark.parametrize(
    "host",
    [
        "[64:ff9b::127.0.0.1]",
        "[64:ff9b::a9fe:a9fe]",
        "[2002:7f00:1::]",
        "[::127.0.0.1]",
        "[::ffff:0:127.0.0.1]",
        "[64:ff9b:1::5db8:d822]",
        "[fec0::1]",
    ],
)
async def test_embedded_ipv6_urls_are_refused_with_the_system_resolver(host: str) -> None:
    with pytest.raises(FetchError, match="private or local"):
        await check_url(f"http://{host}:8000/a.mp3")


@pytest.mark.parametrize("answer", ["0177.0.0.1", "localhost", "127.1"])
async def test_a_resolver_answer_that_is_not_an_ip_address_is_refused(answer: str) -> None:
    async def sloppy(host: str, port: int) -> list[str]:
        return [answer]

    for allow_private in (False, True):
        with pytest.raises(FetchError, match="did not resolve to IP addresses"):
            await check_url(
                "http://media.example/a.mp3", allow_private=allow_private, resolve=sloppy
            )


async def test_webhooks_use_the_same_address_policy(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    with pytest.raises(InvalidInput, match="private or local"):
        await check_webhook_url("https://[64:ff9b::169.254.169.254]/hook", settings)
    seen: list[httpx.Request] = []
    with pytest.raises(FetchError, match="private or local"):
        await post_json(
            "https://[2002:a9fe:a9fe::1]/hook",
            b"{}",
            {},
            timeout=5,
            transport=transport({"/hook": httpx.Response(204)}, seen),
        )
    assert seen == []


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


async def test_a_host_name_idna_cannot_encode_is_a_clear_fetch_error() -> None:
    # The seeds write URLs as "https://.../face.png"; the resolver raised UnicodeError (500).
    with pytest.raises(FetchError, match="could not be resolved"):
        await system_resolve("...", 443)
