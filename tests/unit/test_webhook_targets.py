"""`webhooks.allow_private_networks`: LAN webhook receivers without opening input fetching.

The URLs name IP addresses, so the real system resolver answers without a network.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from engine.config import load_settings
from engine.errors import ConfigError, FetchError, InvalidInput
from engine.media.fetch import check_url, fetch_to_file
from engine.webhooks import check_webhook_url
from tests.conftest import make_settings

LAN = ["10.0.0.0/8", "fd00:1234::/32"]


@pytest.mark.parametrize(
    ("url", "networks", "accepted"),
    [
        ("http://10.1.2.3:8080/hook", LAN, True),  # inside an allowed network
        ("http://[::ffff:10.1.2.3]/hook", LAN, True),  # the same address, IPv4-mapped
        ("http://[fd00:1234::7]/hook", LAN, True),
        ("http://192.168.1.5/hook", LAN, False),  # another private range
        ("http://172.16.0.1/hook", LAN, False),
        ("http://127.0.0.1/hook", LAN, False),  # loopback was not listed
        ("http://[fd00:9999::7]/hook", LAN, False),
        ("http://10.1.2.3/hook", [], False),  # the default: no exceptions
        ("http://8.8.8.8/hook", LAN, True),  # public addresses stay allowed
    ],
)
async def test_a_webhook_target_is_accepted_only_inside_the_allowed_networks(
    tmp_path: Path, url: str, networks: list[str], accepted: bool
) -> None:
    settings = make_settings(
        tmp_path, webhooks={"allow_http": True, "allow_private_networks": networks}
    )
    if accepted:
        await check_webhook_url(url, settings)
    else:
        with pytest.raises(InvalidInput, match="private or local address"):
            await check_webhook_url(url, settings)


async def test_input_fetching_of_an_allowed_webhook_network_is_still_refused(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, webhooks={"allow_private_networks": ["10.0.0.0/8"]})
    await check_webhook_url("https://10.1.2.3/hook", settings)
    with pytest.raises(FetchError, match="private or local address"):
        await fetch_to_file(
            "http://10.1.2.3/face.png",
            tmp_path / "face.png",
            max_bytes=1000,
            timeout=5,
            allow_private=settings.limits.allow_private_urls,
        )
    assert not (tmp_path / "face.png").exists()


async def test_an_allowed_network_does_not_unwrap_to_somewhere_else() -> None:
    """A NAT64 address is judged by the IPv4 address it reaches, not by its own prefix."""
    networks = [ipaddress.ip_network("64:ff9b::/96")]
    with pytest.raises(FetchError, match="private or local address"):
        await check_url("http://[64:ff9b::7f00:1]/hook", allow_networks=networks)


@pytest.mark.parametrize("bad", ["10.0.0.1/8", "lan", "192.168.1.0/33", "10.0.0.0/8,"])
def test_a_bad_network_stops_the_start_naming_the_setting(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match=r"webhooks\.allow_private_networks"):
        make_settings(tmp_path, webhooks={"allow_private_networks": [bad]})


def test_the_networks_can_come_from_the_environment() -> None:
    settings = load_settings(
        None,
        env={"LIPSYNC_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "10.0.0.0/8, 192.168.1.0/24"},
    )
    assert settings.webhooks.allow_private_networks == ["10.0.0.0/8", "192.168.1.0/24"]
    assert [str(n) for n in settings.webhooks.private_networks] == [
        "10.0.0.0/8",
        "192.168.1.0/24",
    ]
