"""Limits and keys are checked from the headers, before any body is read (real uvicorn).

Each refusal is proved by never sending the body at all: the request head announces
gigabytes, and the answer must come back while the client is still holding them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from cli.http_app import http_app
from engine.service import Service
from tests.conftest import make_settings
from tests.support.http import free_port

GIGABYTES = 2 * 1024**3
UPLOAD_LIMIT = 1024 * 1024


@dataclass
class Server:
    service: Service
    port: int
    key: str


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    port = free_port()
    settings = make_settings(
        tmp_path / "data", port=port, limits={"max_upload_bytes": UPLOAD_LIMIT}
    )
    service = await Service.open(settings)
    key = await service.create_api_key("k", 100)
    uv = uvicorn.Server(
        uvicorn.Config(
            http_app(service),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
    )
    serving = asyncio.create_task(uv.serve())
    try:
        while not uv.started:
            assert not serving.done(), "uvicorn stopped"
            await asyncio.sleep(0.02)
        yield Server(service, port, key.secret)
    finally:
        uv.should_exit = True
        await serving
        await service.close()


async def head_only(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    """Send a request head announcing a body, never the body; return the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        status = int(head.split(b" ", 2)[1])
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        body = json.loads(await asyncio.wait_for(reader.readexactly(length), 5))
    finally:
        writer.close()
    return status, body


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def uploads(service: Service) -> list[Path]:
    folder = service.settings.data_path / "uploads"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.parametrize("path", ["/api/v1/files", "/api/v1/lipsync-image", "/mcp"])
async def test_no_key_is_refused_from_the_headers(server: Server, path: str) -> None:
    announced = {"Content-Length": str(GIGABYTES), "Content-Type": "application/json"}
    status, body = await head_only(server.port, path, announced)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    status, body = await head_only(
        server.port, path, {**announced, "Authorization": "Bearer sk_nope_nope"}
    )
    assert status == 401 and "not valid" in body["error"]["message"]
    status, body = await head_only(
        server.port, path, {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}
    )
    assert status == 401


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/files", "file_too_large"),
        ("/api/v1/lipsync-image", "request_too_large"),
        ("/mcp", "request_too_large"),
    ],
)
async def test_an_announced_body_over_the_limit_is_refused_before_it_is_read(
    server: Server, path: str, code: str
) -> None:
    status, body = await head_only(
        server.port, path, {"Content-Length": str(GIGABYTES), "X-API-Key": server.key}
    )
    assert status == 413 and body["error"]["code"] == code
    assert uploads(server.service) == []


async def test_a_chunked_upload_is_cut_at_the_limit(server: Server) -> None:
    """Stream chunks until the server answers; it must answer soon after the limit."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    head = (
        "POST /api/v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        f"X-API-Key: {server.key}\r\nContent-Type: multipart/form-data; boundary=b\r\n\r\n"
    )
    part = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\n"
    )
    writer.write(head.encode() + b"%x\r\n%s\r\n" % (len(part), part))
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    chunk = b"\0" * 65536
    sent = 0
    try:
        while not answer.done() and sent < 64 * UPLOAD_LIMIT:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
            sent += len(chunk)
    except ConnectionError:
        pass  # the server stopped reading and closed: the answer is already on its way
    response = await asyncio.wait_for(answer, 5)
    writer.close()
    assert response.startswith(b"HTTP/1.1 413")
    assert sent < 16 * UPLOAD_LIMIT  # refused soon after the limit, not at the end
    assert uploads(server.service) == []


async def test_a_body_within_the_limit_still_works(server: Server, tmp_path: Path) -> None:
    from tests.support.media import write_tone_wav

    tone = write_tone_wav(tmp_path / "tone.wav", 1.0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
        r = await http.post(
            "/api/v1/files",
            headers={"X-API-Key": server.key},
            files={"file": ("tone.wav", tone.read_bytes())},
        )
        chunked = await http.post(
            "/api/v1/estimate",
            headers={"X-API-Key": server.key, "Content-Type": "application/json"},
            content=pieces(b'{"model": "lipsync-image", ', b'"formState": {}}'),
        )
    assert r.status_code == 201 and r.json()["kind"] == "audio"
    assert chunked.status_code == 422  # read and parsed: the form misses its files
