"""MCP over streamable HTTP at `/mcp` of the real API app, served by uvicorn on loopback."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, ImageContent, ResourceLink, TextContent

from cli.http_app import http_app
from engine.service import Service
from tests.conftest import make_settings
from tests.support.http import free_port
from tests.support.media import face_photo_path
from tests.support.speech import speak

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@dataclass
class Api:
    service: Service
    url: str


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """`http_app` (REST with MCP beside it) with the real renderer, served on a loopback port."""
    port = free_port()
    settings = make_settings(tmp_path / "data", port=port, workers={"plugins": []})
    service = await Service.open(settings)
    await service.start_workers()
    server = uvicorn.Server(
        uvicorn.Config(http_app(service), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), "uvicorn stopped"
            await asyncio.sleep(0.02)
        yield Api(service, f"{settings.base_url}/mcp")
    finally:
        server.should_exit = True
        await serving
        await service.close()


def client_with(url: str, headers: dict[str, str]) -> Client:
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers)))


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def data_uri(path: Path, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(path.read_bytes()).decode()}"


async def test_requests_without_a_valid_key_are_refused(api: Api) -> None:
    async with httpx.AsyncClient() as http:
        missing = await http.post(api.url, json=INITIALIZE, headers=MCP_HEADERS)
        wrong = await http.post(
            api.url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer sk_x_y"}
        )
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"]["code"] == "unauthorized"
    assert "API key is required" in missing.json()["error"]["message"]
    assert wrong.status_code == 401
    assert "not valid" in wrong.json()["error"]["message"]
    with pytest.raises(ExceptionGroup) as refused:  # the SDK's client, refused the same way
        async with Client(api.url) as client:
            await client.list_tools()
    assert refused.group_contains(MCPError)
    assert await api.service.list_jobs(None) == []


@pytest.mark.slow
async def test_a_key_calls_tools_and_pays_with_its_own_credits(api: Api, tmp_path: Path) -> None:
    owner = await api.service.create_api_key("owner", credits=100)
    other = await api.service.create_api_key("other", credits=100)
    voice = speak("Hello there.", "en", tmp_path / "hello.wav")
    progress: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async with client_with(api.url, {"Authorization": f"Bearer {owner.secret}"}) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert "lipsync_image" in tools and "get_balance" in tools
        image_help = tools["lipsync_image"].input_schema["properties"]["image"]["description"]
        assert "local file" not in image_help  # only stdio may read this machine's files
        local = await client.call_tool(
            "lipsync_image", {"image": str(face_photo_path()), "audio": str(voice)}
        )
        assert local.is_error and "must be an http(s) URL" in text_of(local)
        result = await client.call_tool(
            "lipsync_image",
            {
                "image": data_uri(face_photo_path(), "image/jpeg"),
                "audio": data_uri(voice, "audio/wav"),
                "wait_seconds": 120,
            },
            progress_callback=on_progress,
        )
        balance = await client.call_tool("get_balance", {})
    assert not result.is_error, text_of(result)
    job = result.structured_content
    assert job["status"] == "completed" and job["credits_charged"] == 10
    assert job["local_path"] is None
    assert progress[0] == "fetching inputs" and progress[-1] == "done"
    links = [block for block in result.content if isinstance(block, ResourceLink)]
    assert [link.uri for link in links] == [job["output_url"]]
    assert any(isinstance(block, ImageContent) for block in result.content)
    async with httpx.AsyncClient() as http:
        video = await http.get(job["output_url"])
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert balance.structured_content["credits"] == 90
    assert (await api.service.get_api_key(owner.key.id)).balance == 90
    assert (await api.service.get_api_key(other.key.id)).balance == 100

    # Another key (here through X-API-Key) sees its own account, not the owner's jobs.
    async with client_with(api.url, {"X-API-Key": other.secret}) as client:
        foreign = await client.call_tool("get_job", {"job_id": job["job_id"]})
        own = await client.call_tool("list_jobs", {})
    assert foreign.is_error and "no job with id" in text_of(foreign)
    assert own.structured_content == {"jobs": []}


async def test_handshake_era_clients_are_served_and_charged_the_same_way(api: Api) -> None:
    key = await api.service.create_api_key("legacy", credits=7)
    transport = streamable_http_client(
        api.url, http_client=httpx2.AsyncClient(headers={"Authorization": f"Bearer {key.secret}"})
    )
    async with Client(transport, mode="legacy") as client:
        assert client.protocol_version.startswith("2025")
        balance = await client.call_tool("get_balance", {})
        missing = await client.call_tool("get_job", {"job_id": "nope"})
    assert balance.structured_content["credits"] == 7
    assert missing.is_error and "no job with id nope" in text_of(missing)


async def test_mcp_submissions_share_the_keys_budget_with_rest_and_say_when_to_retry(
    api: Api, tmp_path: Path
) -> None:
    """A free key: 10 jobs or estimates a minute in all, whichever door asks."""
    key = await api.service.create_api_key("free", credits=0, plan="free")
    headers = {"Authorization": f"Bearer {key.secret}"}
    voice = speak("Hello there.", "en", tmp_path / "hello.wav")
    base = api.url.removesuffix("/mcp")
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:
        form = {}
        for role, path in (("image", face_photo_path()), ("audio", voice)):
            with path.open("rb") as f:
                uploaded = await http.post("/api/v1/files", files={"file": (path.name, f)})
            form[role] = uploaded.json()["url"]
        for _ in range(4):
            rest = await http.post(
                "/api/v1/estimate", json={"model": "lipsync-image", "formState": form}
            )
            assert rest.status_code == 200, rest.text
        async with client_with(api.url, headers) as client:
            answers = [
                await client.call_tool("lipsync_image", {**form, "wait_seconds": 0})
                for _ in range(8)
            ]
        refused = await http.post(
            "/api/v1/estimate", json={"model": "lipsync-image", "formState": form}
        )
    texts = [text_of(a) for a in answers]
    # Six more fit in the budget (they fail for want of credits), then the door closes.
    assert all(a.is_error and "credits" in t for a, t in zip(answers[:6], texts[:6], strict=True))
    for answer, text in zip(answers[6:], texts[6:], strict=True):
        assert answer.is_error and "free plan allows 10 a minute" in text
        retry = int(text.rsplit("retry in ", 1)[1].split(" s")[0])
        assert 1 <= retry <= 60
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert await api.service.list_jobs(key.key.account_id) == []


async def test_twenty_five_quick_mcp_submissions_get_ten_through(api: Api) -> None:
    key = await api.service.create_api_key("free", credits=0, plan="free")
    photo = data_uri(face_photo_path(), "image/jpeg")
    async with client_with(api.url, {"X-API-Key": key.secret}) as client:
        answers = await asyncio.gather(
            *(
                client.call_tool("lipsync_image", {"image": photo, "audio": "data:,x"})
                for _ in range(25)
            )
        )
    limited = [a for a in answers if "retry in" in text_of(a)]
    assert len(limited) == 15 and all(a.is_error for a in answers)
