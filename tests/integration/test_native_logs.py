"""MediaPipe's and TensorFlow Lite's own log lines stay off the terminal unless `--verbose`.

They are written by C++ threads straight to file descriptor 2 (see engine/native_logs.py),
so the tests look at what real processes print: the CLI's in-process `render`, and the
spawned render process of a `lipsync worker`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.job_request import JobRequest
from engine.native_logs import NOISE
from engine.service import Service
from tests.conftest import make_settings
from tests.support.media import face_photo_path, write_tone_wav

REPO = Path(__file__).resolve().parents[2]
# What mediapipe 0.10.21 prints when its face graphs start (seen in every render).
MARKERS = (
    "Created TensorFlow Lite XNNPACK delegate",
    "All log messages before absl::InitializeLog()",
    "inference_feedback_manager.cc",
    "landmark_projection_calculator.cc",
)


def environment(data_dir: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LIPSYNC_", "GLOG_", "TF_"))},
        "LIPSYNC_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(REPO),
    }


def flags(verbose: bool) -> list[str]:
    return ["--verbose"] if verbose else []


def noise_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(m in line for m in MARKERS)]


@pytest.mark.parametrize("verbose", [False, True])
def test_a_cli_render_prints_no_native_log_lines_unless_verbose(
    tmp_path: Path, verbose: bool
) -> None:
    voice = write_tone_wav(tmp_path / "voice.wav", 1.0)
    out = tmp_path / "out.mp4"
    files = [str(face_photo_path()), str(voice), "-o", str(out)]
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", *flags(verbose), "render", "image", *files],
        cwd=REPO,
        env=environment(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert out.is_file() and "wrote" in result.stdout
    assert "finding faces..." in result.stderr  # our own progress lines still show
    if verbose:  # the lines exist, so their absence below means something
        assert noise_in(result.stderr), result.stderr
    else:
        assert noise_in(result.stderr) == [], result.stderr


@pytest.mark.parametrize("verbose", [False, True])
async def test_a_workers_render_process_prints_no_native_log_lines_unless_verbose(
    tmp_path: Path, verbose: bool
) -> None:
    data = tmp_path / "data"
    voice = write_tone_wav(tmp_path / "voice.wav", 1.0)
    face = face_photo_path()
    service = await Service.open(make_settings(data, workers={"plugins": []}))
    try:
        account = (await service.create_api_key("k", 100, plan="pro")).key.account_id
        request = JobRequest(
            model="lipsync-image", inputs={"image": str(face), "audio": str(voice)}
        )
        job = await service.submit(account, request, local_dirs=[face.parent, voice.parent])
        log = tmp_path / "worker.log"
        with log.open("wb") as sink:
            worker = subprocess.Popen(
                [sys.executable, "-m", "cli.main", *flags(verbose), "worker", "--workers", "1"],
                cwd=REPO,
                env=environment(data),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            done = await service.wait(job.id, timeout=240)
            assert done.status == "completed", done.error
        finally:
            worker.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 30
            while worker.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            worker.kill()
    finally:
        await service.close()
    printed = log.read_text(errors="replace")
    if verbose:
        assert noise_in(printed), printed
    else:
        assert noise_in(printed) == [], printed
        assert "worker pool" in printed  # the worker's own log lines still show


@pytest.mark.parametrize(
    ("line", "noise"),
    [
        (b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", True),
        (b"WARNING: All log messages before absl::InitializeLog() is called are written", True),
        (b"W0000 00:00:1796153304.315138   19693 inference_feedback_manager.cc:114] Feed", True),
        (b"I0123 12:34:56.789012   4242 gl_context.cc:357] GL version: 3.2", True),
        (b"E0000 00:00:1796153304.315138   19693 calculator_graph.cc:887] failed", False),
        (b"F0000 00:00:1796153304.315138   19693 packet.cc:12] Check failed", False),
        (b"2024-01-01 12:00:00,000 INFO lipsync.worker: worker pool started", False),
        (b"Traceback (most recent call last):", False),
    ],
)
def test_only_informational_and_warning_lines_are_dropped(line: bytes, noise: bool) -> None:
    assert bool(NOISE.match(line)) is noise
