"""A newcomer's path: `lipsync serve` as a real process, its printed key, a real render."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import httpx
import pytest

from tests.support.http import free_port
from tests.support.media import face_photo_path
from tests.support.speech import speak

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def start_serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`lipsync serve` with its output in a file: a pipe nobody drains would fill up and
    block the server on its next log line."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def read_key(process: subprocess.Popen[bytes], log: Path, data: Path, timeout: float = 120) -> str:
    """The first-start key: printed on a terminal, but with output going to a file (as
    here) it is written to data/admin-key.txt and only that path is printed."""
    key_file = data / "admin-key.txt"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if str(key_file) in log.read_text(errors="replace"):
            key = key_file.read_text().strip()
            assert re.fullmatch(r"sk_[0-9a-f]+_\S+", key), key
            assert key not in log.read_text(errors="replace")
            return key
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"serve handed over no key:\n{log.read_text(errors='replace')[-2000:]}")


def test_serve_prints_a_key_that_works_and_renders_a_playable_video(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LIPSYNC_DATA_DIR": str(tmp_path / "data"),
        "LIPSYNC_PORT": str(port),
        "LIPSYNC_WORKERS_COUNT": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "serve.log"
    process = start_serve(env, log)
    try:
        key = read_key(process, log, tmp_path / "data")
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(200):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert client.get("/health").json()["status"] == "ok"
            headers = {"Authorization": f"Bearer {key}"}
            assert client.get("/api/v1/balance", headers=headers).json()["balance"] == 1000
            voice = speak("Hello there, my name is Grace.", "en", tmp_path / "voice.wav")
            urls = {}
            for role, path in (("image", face_photo_path()), ("audio", voice)):
                r = client.post(
                    "/api/v1/files", headers=headers, files={"file": (path.name, path.read_bytes())}
                )
                assert r.status_code == 201, r.text
                urls[role] = r.json()["url"]
            r = client.post("/api/v1/lipsync-image", headers=headers, json={"formState": urls})
            assert r.status_code == 200, r.text
            job_id = r.json()["id"]
            for _ in range(600):
                job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
                if job["status"] in ("completed", "failed"):
                    break
                time.sleep(0.2)
            assert job["status"] == "completed", job
            video = client.get(job["output"].replace(base, ""))
            assert video.status_code == 200
            out = tmp_path / "out.mp4"
            out.write_bytes(video.content)
            with av.open(str(out)) as container:
                assert container.streams.video[0].codec_context.name == "h264"
                assert container.streams.audio[0].codec_context.name == "aac"
                assert sum(1 for _ in container.decode(video=0)) > 25
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
