"""`lipsync mcp` as a desktop assistant runs it: a subprocess spoken to over stdin/stdout."""

from __future__ import annotations

import base64
import json
import shutil
import sys
from pathlib import Path

import av
import pytest
from mcp import Client, StdioServerParameters
from mcp_types import ImageContent, ResourceLink

from tests.support.media import face_photo_path
from tests.support.speech import speak

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


async def test_stdio_server_renders_local_files(tmp_path: Path) -> None:
    face = shutil.copy(face_photo_path(), tmp_path / "face.jpg")
    voice = speak("Hello from the desktop.", "en", tmp_path / "hello.wav")
    data = tmp_path / "data"
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "cli.main", "mcp"],
        cwd=REPO,
        env={
            "LIPSYNC_DATA_DIR": str(data),
            "LIPSYNC_MCP_ALLOWED_DIRS": json.dumps([str(tmp_path)]),
            "LIPSYNC_WORKERS_COUNT": "1",
        },
    )
    garbage: list[Exception] = []  # anything on stdout that is not protocol lands here
    stages: list[str | None] = []

    async def on_message(message: object) -> None:
        if isinstance(message, Exception):
            garbage.append(message)

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        stages.append(message)

    async with Client(server, message_handler=on_message) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool(
            "lipsync_image",
            {"image": str(face), "audio": str(voice), "wait_seconds": 180},
            progress_callback=on_progress,
        )
        balance = await client.call_tool("get_balance", {})

    assert {"lipsync_image", "lipsync_image_multi", "lipsync_video", "get_job"} <= names
    assert not result.is_error, result.content
    job = result.structured_content
    assert job["status"] == "completed" and job["credits_charged"] == 10
    local = Path(job["local_path"])
    assert local.is_file() and local.parent == data.resolve() / "outputs"
    with av.open(str(local)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for _ in container.decode(video=0)) > 10
    assert [b.uri for b in result.content if isinstance(b, ResourceLink)] == [local.as_uri()]
    thumbnails = [b for b in result.content if isinstance(b, ImageContent)]
    assert len(thumbnails) == 1 and base64.b64decode(thumbnails[0].data)[:4] == b"\x89PNG"
    assert stages[0] == "fetching inputs" and stages[-1] == "done"
    # The configured local account: starter credits from config.toml, less this job.
    assert balance.structured_content["credits"] == 1000 - 10
    assert garbage == []
