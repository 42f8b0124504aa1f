"""The MCP tools through the SDK's real client, in memory, over a real engine and workers.

Renders use the real renderer (short speech, 480p); queue behaviour (progress wording,
cancel, idempotency) uses the scripted handlers, which take a known time.
"""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import av
import cv2
import numpy as np
import pytest
from mcp import Client
from mcp_types import CallToolResult, ImageContent, ResourceLink, TextContent

from engine.config import Settings
from engine.handlers import get_handler, load_handlers
from engine.service import Service
from mcp_server.server import build_server, fixed_caller
from tests.conftest import make_settings
from tests.support.media import face_photo_path, write_png
from tests.support.speech import speak

T = TypeVar("T")
STAGE_WORDS = re.compile(
    r"fetching inputs|queued, waiting for a render slot|starting|decoding inputs|finding faces"
    r"|analysing speech|rendering \d+%|encoding|done"
)
TOOLS = {
    "lipsync_video",
    "lipsync_image",
    "lipsync_image_multi",
    "get_job",
    "list_jobs",
    "cancel_job",
    "get_balance",
    "estimate_cost",
    "list_voices",
}


@dataclass
class Door:
    """An MCP client on a server built as the stdio door builds it, and its account."""

    client: Client
    service: Service
    account_id: str
    files: Path

    async def call(self, tool: str, **arguments: object) -> CallToolResult:
        return await self.client.call_tool(tool, arguments)

    async def call_watching(
        self, tool: str, **arguments: object
    ) -> tuple[CallToolResult, list[tuple[float, float | None, str | None]]]:
        seen: list[tuple[float, float | None, str | None]] = []

        async def progress(value: float, total: float | None, message: str | None) -> None:
            seen.append((value, total, message))

        result = await self.client.call_tool(tool, arguments, progress_callback=progress)
        return result, seen

    async def balance(self) -> int:
        return (await self.service.get_account(self.account_id)).balance


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """Inputs on disk: a face, a photo of two people, a photo with no face, speech."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(face_photo_path(), folder / "face.jpg")
    face = cv2.imread(str(folder / "face.jpg"))
    cv2.imwrite(str(folder / "two.jpg"), np.concatenate([face, face[:, ::-1]], axis=1))
    write_png(folder / "no_face.png", 320, 240)
    speak("Hello there, nice to meet you.", "en", folder / "hello.wav")
    speak("Hi.", "en", folder / "hi.wav")
    return folder


async def open_door(settings: Settings, files: Path, credits: int) -> AsyncIterator[Door]:
    service = await Service.open(settings)
    await service.start_workers()
    try:
        account = await service.named_account("mcp:test", kind="api", starter_credits=credits)
        server = build_server(
            service,
            fixed_caller(account.id),
            local_dirs=[files, settings.data_path / "outputs"],
            show_local_paths=True,
        )
        async with in_own_task(Client(server)) as client:
            yield Door(client, service, account.id, files)
    finally:
        await service.close()


@asynccontextmanager
async def in_own_task(manager: AbstractAsyncContextManager[T]) -> AsyncIterator[T]:
    """Enter and exit `manager` in one task of its own.

    The client's anyio task group must be left by the task that entered it, but pytest
    may set a fixture up and tear it down in different tasks.
    """
    entered: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    release = asyncio.Event()

    async def hold() -> None:
        try:
            async with manager as value:
                entered.set_result(value)
                await release.wait()
        except BaseException as exc:
            if not entered.done():
                entered.set_exception(exc)
            raise

    task = asyncio.create_task(hold())
    try:
        yield await entered
    finally:
        release.set()
        await task


@pytest.fixture
async def renderer(tmp_path: Path, files: Path) -> AsyncIterator[Door]:
    """The real renderer in one worker process."""
    settings = make_settings(tmp_path / "data", workers={"plugins": []})
    async for door in open_door(settings, files, credits=1000):
        yield door


@pytest.fixture
async def scripted(tmp_path: Path, files: Path) -> AsyncIterator[Door]:
    """Handlers that take the time their `prompt` says ("sleep:2"), for queue behaviour."""
    async for door in open_door(make_settings(tmp_path / "data"), files, credits=1000):
        yield door


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def data_uri(path: Path, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(path.read_bytes()).decode()}"


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        return float(container.duration or 0) / av.time_base


def check_playable_mp4(path: Path) -> int:
    """Open the MP4 as a player would: H.264 and AAC streams, frames that decode."""
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 10
    return frames


def check_finished(result: CallToolResult) -> dict:
    """A completed job's result: structured output, link to the MP4, PNG thumbnail."""
    assert not result.is_error, text_of(result)
    job = result.structured_content
    assert job["status"] == "completed" and job["stage"] == "done"
    assert job["output_url"].endswith(".mp4") and job["credits_charged"] > 0
    local = Path(job["local_path"])
    assert local.is_file()
    links = [b for b in result.content if isinstance(b, ResourceLink)]
    assert len(links) == 1 and links[0].mime_type == "video/mp4"
    assert Path(urllib.parse.unquote(urllib.parse.urlsplit(links[0].uri).path)) == local
    assert links[0].size == local.stat().st_size
    images = [b for b in result.content if isinstance(b, ImageContent)]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    png = base64.b64decode(images[0].data)
    assert png.startswith(b"\x89PNG")
    thumbnail = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert thumbnail is not None and 0 < thumbnail.shape[1] <= 512
    assert thumbnail.std() > 10, "the thumbnail should show the picture, not a blank frame"
    check_playable_mp4(local)
    return job


# -- listing -----------------------------------------------------------------------------


async def test_lists_every_tool_with_typed_described_parameters(scripted: Door) -> None:
    tools = {tool.name: tool for tool in (await scripted.client.list_tools()).tools}
    assert set(tools) == TOOLS
    image = tools["lipsync_image"]
    assert set(image.input_schema["required"]) == {"image"}  # audio, or text to speak
    properties = image.input_schema["properties"]
    assert {"wait_seconds", "idempotency_key", "resolution", "seed", "fps"} <= set(properties)
    assert all(spec.get("description") for spec in properties.values())
    assert "local file path under" in properties["image"]["description"]
    assert properties["wait_seconds"]["maximum"] >= 60
    resolutions = next(a for a in properties["resolution"]["anyOf"] if "enum" in a)["enum"]
    assert resolutions == ["480p", "720p", "1080p"]
    multi = tools["lipsync_image_multi"].input_schema
    assert set(multi["required"]) == {"image"}
    orders = next(a for a in multi["properties"]["order"]["anyOf"] if "enum" in a)["enum"]
    assert orders == ["meanwhile", "left_right", "right_left"]
    video = tools["lipsync_video"].input_schema
    assert set(video["required"]) == {"video"} and "sync_mode" in video["properties"]
    for name in ("lipsync_video", "lipsync_image", "lipsync_image_multi", "get_job"):
        output = tools[name].output_schema
        assert {"job_id", "status", "output_url", "credits_charged"} <= set(output["properties"])
    assert "credits" in tools["get_balance"].output_schema["properties"]
    assert "affordable" in tools["estimate_cost"].output_schema["properties"]


# -- real renders ------------------------------------------------------------------------


@pytest.mark.slow
async def test_lipsync_image_reports_progress_and_returns_a_playable_mp4(renderer: Door) -> None:
    voice = renderer.files / "hello.wav"
    result, seen = await renderer.call_watching(
        "lipsync_image",
        image=str(renderer.files / "face.jpg"),
        audio=data_uri(voice, "audio/wav"),  # inline data, as an assistant would send
        wait_seconds=120,
    )
    job = check_finished(result)
    assert job["duration_seconds"] == pytest.approx(audio_seconds(voice), abs=0.15)
    assert job["credits_charged"] == 10  # min 5 s at 480p, 2 credits/s
    assert await renderer.balance() == 1000 - 10
    messages = [message for _, _, message in seen]
    assert messages[0] == "fetching inputs"
    assert messages[-1] == "done"
    # A short render may finish between two samples of its stage; words are checked here,
    # "rendering N%" step by step with the scripted handler below.
    assert all(STAGE_WORDS.fullmatch(m or "") for m in messages), messages
    values = [value for value, _, _ in seen]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert values[-1] == 100 and all(total == 100 for _, total, _ in seen)
    summary = text_of(result)
    assert job["output_url"] in summary and job["local_path"] in summary


@pytest.mark.slow
async def test_lipsync_image_multi_makes_a_conversation(renderer: Door) -> None:
    left, right = renderer.files / "hello.wav", renderer.files / "hi.wav"
    result = await renderer.call(
        "lipsync_image_multi",
        image=str(renderer.files / "two.jpg"),
        left_audio=str(left),
        right_audio=f"file://{right}",
        order="left_right",
        wait_seconds=120,
    )
    job = check_finished(result)
    expected = audio_seconds(left) + audio_seconds(right)
    assert job["duration_seconds"] == pytest.approx(expected, abs=0.3)


@pytest.mark.slow
async def test_lipsync_video_dubs_a_finished_result(renderer: Door) -> None:
    # Parameters are checked whether or not the dubbing handler is there.
    wrong = await renderer.call(
        "lipsync_video",
        video=str(renderer.files / "face.jpg"),
        audio=str(renderer.files / "hi.wav"),
    )
    assert wrong.is_error and "'video' must be a video" in text_of(wrong)
    bad_mode = await renderer.call(
        "lipsync_video", video="https://example.com/a.mp4", audio="x", sync_mode="sideways"
    )
    assert bad_mode.is_error and "sync_mode" in text_of(bad_mode)
    load_handlers([])
    if get_handler("lipsync-video") is None:
        pytest.skip("the lipsync-video handler is not registered yet")
    portrait = await renderer.call(
        "lipsync_image",
        image=str(renderer.files / "face.jpg"),
        audio=str(renderer.files / "hello.wav"),
        wait_seconds=120,
    )
    source = check_finished(portrait)["local_path"]  # outputs are allowed inputs over stdio
    voice = renderer.files / "hi.wav"
    dubbed = await renderer.call(
        "lipsync_video", video=source, audio=str(voice), sync_mode="freeze", wait_seconds=120
    )
    job = check_finished(dubbed)
    assert job["model"] == "lipsync-video"
    assert job["duration_seconds"] == pytest.approx(audio_seconds(voice), abs=0.15)


# -- errors come back as tool errors -----------------------------------------------------


@pytest.mark.slow
async def test_no_face_is_a_tool_error_and_refunded(renderer: Door) -> None:
    result = await renderer.call(
        "lipsync_image",
        image=str(renderer.files / "no_face.png"),
        audio=str(renderer.files / "hi.wav"),
        wait_seconds=60,
    )
    assert result.is_error
    assert "no face found in the image" in text_of(result)
    assert result.structured_content["status"] == "failed"
    assert result.structured_content["error_code"] == "no_face"
    assert await renderer.balance() == 1000


async def test_private_url_is_refused_without_a_job(scripted: Door) -> None:
    result = await scripted.call(
        "lipsync_image", image=str(scripted.files / "face.jpg"), audio="http://127.0.0.1/x.wav"
    )
    assert result.is_error
    assert "audio:" in text_of(result) and "127.0.0.1" in text_of(result)
    listing = await scripted.call("list_jobs")
    assert listing.structured_content == {"jobs": []}
    assert await scripted.balance() == 1000


async def test_too_few_credits_is_a_tool_error(scripted: Door) -> None:
    poor = await scripted.service.named_account("mcp:poor", kind="api", starter_credits=3)
    server = build_server(scripted.service, fixed_caller(poor.id), local_dirs=[scripted.files])
    inputs = {"image": str(scripted.files / "face.jpg"), "audio": str(scripted.files / "hi.wav")}
    async with Client(server) as client:
        estimate = await client.call_tool("estimate_cost", {"model": "lipsync-image", **inputs})
        assert estimate.structured_content["credits"] == 10
        assert estimate.structured_content["affordable"] is False
        result = await client.call_tool("lipsync_image", inputs)
    assert result.is_error
    assert "costs 10 credits but the balance is 3" in text_of(result)
    assert (await scripted.service.get_account(poor.id)).balance == 3


async def test_unknown_job_and_bad_arguments_are_tool_errors(scripted: Door) -> None:
    for tool in ("get_job", "cancel_job"):
        result = await scripted.call(tool, job_id="no-such-job")
        assert result.is_error and "no job with id no-such-job" in text_of(result)
    outside = await scripted.call(
        "lipsync_image", image="/etc/hostname", audio=str(scripted.files / "hi.wav")
    )
    assert outside.is_error and "outside the folders" in text_of(outside)
    negative = await scripted.call(
        "lipsync_image", image="https://example.com/a.jpg", audio="x", wait_seconds=-1
    )
    assert negative.is_error and "wait_seconds" in text_of(negative)


# -- queue behaviour (scripted handlers) -------------------------------------------------


async def test_progress_names_the_stage_with_a_percentage(scripted: Door) -> None:
    result, seen = await scripted.call_watching(
        "lipsync_image",
        image=str(scripted.files / "face.jpg"),
        audio=str(scripted.files / "hi.wav"),
        prompt="sleep:3",
        wait_seconds=30,
    )
    assert result.structured_content["status"] == "completed"
    messages = [message or "" for _, _, message in seen]
    assert messages[0] == "fetching inputs"
    percents = [int(m[len("rendering ") : -1]) for m in messages if m.startswith("rendering ")]
    assert len(percents) >= 2 and percents == sorted(percents) and percents[-1] > percents[0]
    assert messages[-1] == "done"
    values = [value for value, _, _ in seen]
    assert values == sorted(values) and values[-1] == 100


async def test_submit_returns_at_once_then_get_job_waits(scripted: Door) -> None:
    submitted = await scripted.call(
        "lipsync_image",
        image=str(scripted.files / "face.jpg"),
        audio=str(scripted.files / "hi.wav"),
        prompt="sleep:1",
    )
    job = submitted.structured_content
    assert job["status"] in ("queued", "processing") and job["output_url"] is None
    assert job["credits_estimated"] == 10 and job["job_id"] in text_of(submitted)
    assert await scripted.balance() == 990  # held while it runs
    finished, seen = await scripted.call_watching("get_job", job_id=job["job_id"], wait_seconds=30)
    assert finished.structured_content["status"] == "completed"
    assert finished.structured_content["credits_charged"] == 10
    assert seen and seen[-1][2] == "done"
    listing = await scripted.call("list_jobs", status=["completed"])
    assert [j["job_id"] for j in listing.structured_content["jobs"]] == [job["job_id"]]


async def test_cancel_refunds_and_a_second_cancel_is_refused(scripted: Door) -> None:
    submitted = await scripted.call(
        "lipsync_image",
        image=str(scripted.files / "face.jpg"),
        audio=str(scripted.files / "hi.wav"),
        prompt="sleep:10",
    )
    job_id = submitted.structured_content["job_id"]
    assert await scripted.balance() == 990
    canceled = await scripted.call("cancel_job", job_id=job_id)
    assert not canceled.is_error
    assert canceled.structured_content["status"] == "canceled"
    assert await scripted.balance() == 1000
    again = await scripted.call("cancel_job", job_id=job_id)
    assert again.is_error and "already canceled" in text_of(again)


async def test_idempotency_key_returns_the_same_job_and_charges_once(scripted: Door) -> None:
    arguments = {
        "image": str(scripted.files / "face.jpg"),
        "audio": str(scripted.files / "hi.wav"),
        "idempotency_key": "order-42",
    }
    first = await scripted.call("lipsync_image", **arguments)
    second = await scripted.call("lipsync_image", **arguments)
    assert first.structured_content["job_id"] == second.structured_content["job_id"]
    assert await scripted.balance() == 990
    balance = await scripted.call("get_balance")
    assert balance.structured_content["credits"] == 990
