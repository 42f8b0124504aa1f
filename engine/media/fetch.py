"""SSRF-safe fetching of user-supplied URLs (media inputs; the same checks guard webhooks).

A URL from a user must never make the server talk to itself, the LAN or a cloud metadata
endpoint. So: only http(s); resolve the host ourselves and refuse it unless *every* address
is global; connect to the address we checked (pinned: the host name goes only into the
Host header and TLS SNI, so a DNS answer that changes between check and connect — DNS
rebinding — cannot redirect us); follow redirects by hand, checking each hop the same way;
stop at a size and a time limit.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import socket
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from engine.errors import FetchError

MAX_REDIRECTS = 5
Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True)
class Fetched:
    path: Path
    size: int
    content_type: str


def human_size(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.0f} {unit}"
    return f"{n} bytes"


async def system_resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):  # UnicodeError: a name IDNA cannot encode ("...")
        raise FetchError(f"the host {host} could not be resolved") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# IPv6 forms whose last 32 bits are an IPv4 address that a translator or the host's own stack
# will deliver to: NAT64 well-known prefix (RFC 6052), IPv4-compatible (RFC 4291, deprecated)
# and IPv4-translated (RFC 2765). IPv4-mapped (::ffff:a.b.c.d) has `ipv4_mapped` instead.
_LAST_32_BITS_ARE_IPV4 = tuple(
    ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96")
)
# Where the real destination cannot be judged from the address at all.
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: any site's own IPv4
# Special-purpose blocks that Python 3.11's `ipaddress` still calls global.
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "192.0.0.0/24",  # IETF protocol assignments (3.11 only knows parts of it)
        "192.88.99.0/24",  # deprecated 6to4 relay anycast (RFC 7526)
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 segment identifiers (RFC 9602)
    )
)


def unwrap_embedded_ipv4(ip: IPAddress) -> IPAddress | None:
    """The address that decides where a connection to `ip` really goes, or None if unknowable.

    `ipaddress` judges `64:ff9b::7f00:1` or `2002:7f00:1::` by their IPv6 prefix and calls them
    global, yet a NAT64 gateway or 6to4 relay delivers them to 127.0.0.1. So every IPv6 form that
    embeds an IPv4 address is turned into that IPv4 address, to be judged as IPv4. Teredo,
    local-use NAT64 and site-local addresses reach a destination that the address does not
    reveal (or that is local by definition), so they give None: forbidden. `::` and `::1` fall
    under IPv4-compatible and unwrap to 0.0.0.0 and 0.0.0.1, which stay refused.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:  # 2002::/16, the IPv4 in bits 16..48
        return ip.sixtofour
    if any(ip in net for net in _LAST_32_BITS_ARE_IPV4):
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    if ip.teredo is not None or ip in _NAT64_LOCAL_USE or ip.is_site_local:
        return None
    return ip


def is_public_address(address: str) -> bool:
    """True only for a globally routable unicast address, the one policy for all user URLs.

    Anything that does not parse as an IP address is not public: only addresses the resolver
    produced are judged, never host names. A zone index (`fe80::1%eth0`) is ignored.
    """
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    ip = unwrap_embedded_ipv4(parsed)
    return (
        ip is not None
        and ip.is_global
        and not ip.is_multicast
        and not ip.is_reserved
        and not any(ip in net for net in _NOT_GLOBAL)
    )


def in_networks(address: str, networks: Sequence[IPNetwork]) -> bool:
    """Whether the address a connection to `address` really reaches (see
    `unwrap_embedded_ipv4`) lies in one of `networks`: an operator's exceptions to the
    public-only policy, such as a LAN that receives webhooks."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    ip = unwrap_embedded_ipv4(parsed)
    return ip is not None and any(ip.version == net.version and ip in net for net in networks)


async def check_url(
    url: str,
    *,
    allow_private: bool = False,
    allow_http: bool = True,
    allow_networks: Sequence[IPNetwork] = (),
    resolve: Resolver = system_resolve,
) -> tuple[urllib.parse.SplitResult, str]:
    """Validate a URL and resolve it; returns the parsed URL and the address to connect to.

    Every address the host resolves to must be public, or inside `allow_networks`.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError(f"not a valid URL: {url[:200]}") from None
    allowed_schemes = ("http", "https") if allow_http else ("https",)
    if parts.scheme not in allowed_schemes:
        raise FetchError(f"only {' and '.join(allowed_schemes)} URLs are accepted: {url[:200]}")
    host = parts.hostname
    if not host:
        raise FetchError(f"the URL has no host: {url[:200]}")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = await resolve(host, port)
    if not addresses:
        raise FetchError(f"the host {host} could not be resolved")
    try:  # canonical form: the string we connect to is exactly the address we checked
        addresses = [str(ipaddress.ip_address(a)) for a in addresses]
    except ValueError:
        raise FetchError(f"the host {host} did not resolve to IP addresses") from None
    if not allow_private and not all(
        is_public_address(a) or in_networks(a, allow_networks) for a in addresses
    ):
        raise FetchError(
            f"the URL points to a private or local address, which is not allowed: {host}"
        )
    return parts, addresses[0]


def pinned_url(parts: urllib.parse.SplitResult, address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


async def fetch_to_file(
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    timeout: float,
    allow_private: bool = False,
    resolve: Resolver = system_resolve,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Fetched:
    """Download `url` into `dest`, refusing private addresses, oversize files and slowness."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(
        transport=transport, follow_redirects=False, timeout=httpx.Timeout(timeout)
    ) as client:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            parts, address = await check_url(current, allow_private=allow_private, resolve=resolve)
            request = client.build_request(
                "GET",
                pinned_url(parts, address),
                headers={"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": "lipsync/0.1"},
                extensions={"sni_hostname": parts.hostname},
            )
            try:
                response = await asyncio.wait_for(
                    client.send(request, stream=True), max(0.1, deadline - time.monotonic())
                )
            except (TimeoutError, httpx.TimeoutException):
                raise FetchError(f"fetching {url[:200]} timed out") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"could not fetch {url[:200]}: {type(exc).__name__}") from None
            try:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    current = urllib.parse.urljoin(current, location)
                    continue
                if response.status_code != 200:
                    raise FetchError(
                        f"fetching {url[:200]} failed with HTTP {response.status_code}"
                    )
                size = await _save(response, dest, max_bytes, deadline, url)
                return Fetched(dest, size, response.headers.get("content-type", ""))
            finally:
                await response.aclose()
    raise FetchError(f"too many redirects fetching {url[:200]}")


async def _save(
    response: httpx.Response, dest: Path, max_bytes: int, deadline: float, url: str
) -> int:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"the file at {url[:200]} is larger than {human_size(max_bytes)}")
    size = 0
    with dest.open("wb") as out:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                out.close()
                dest.unlink(missing_ok=True)
                raise FetchError(f"the file at {url[:200]} is larger than {human_size(max_bytes)}")
            if time.monotonic() > deadline:
                out.close()
                dest.unlink(missing_ok=True)
                raise FetchError(f"fetching {url[:200]} timed out")
            out.write(chunk)
    return size


def decode_data_uri(uri: str, *, max_bytes: int) -> tuple[bytes, str]:
    """The bytes and media type of a `data:` URI (base64 or percent-encoded)."""
    header, sep, data = uri.partition(",")
    if not sep or not header.startswith("data:"):
        raise FetchError("not a valid data: URI")
    media_type = header[5:].split(";", 1)[0] or "text/plain"
    if len(data) > max_bytes * 4 // 3 + 4:
        raise FetchError(
            f"data: URIs are limited to {human_size(max_bytes)}; upload the file instead"
        )
    try:
        if header.endswith(";base64"):
            payload = base64.b64decode(data, validate=True)
        else:
            payload = urllib.parse.unquote_to_bytes(data)
    except (binascii.Error, ValueError):
        raise FetchError("the data: URI is not valid base64") from None
    if len(payload) > max_bytes:
        raise FetchError(
            f"data: URIs are limited to {human_size(max_bytes)}; upload the file instead"
        )
    return payload, media_type


async def post_json(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    allow_private: bool = False,
    allow_http: bool = False,
    allow_networks: Sequence[IPNetwork] = (),
    resolve: Resolver = system_resolve,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """POST to a user's URL with the same pinning and address checks; returns the status.

    Redirects are not followed: a webhook receiver that redirects is misconfigured, and
    following it would re-open the door the address check closed.
    """
    parts, address = await check_url(
        url,
        allow_private=allow_private,
        allow_http=allow_http,
        allow_networks=allow_networks,
        resolve=resolve,
    )
    async with httpx.AsyncClient(
        transport=transport, follow_redirects=False, timeout=httpx.Timeout(timeout)
    ) as client:
        try:
            response = await client.post(
                pinned_url(parts, address),
                content=body,
                headers={
                    **headers,
                    "Host": parts.netloc.rsplit("@", 1)[-1],
                    "Content-Type": "application/json",
                    "User-Agent": "lipsync-webhooks/0.1",
                },
                extensions={"sni_hostname": parts.hostname},
            )
        except httpx.HTTPError as exc:
            raise FetchError(f"could not reach {parts.hostname}: {type(exc).__name__}") from None
    return response.status_code
