"""Schema-driven fuzzing of the whole REST API over loopback: no input may cause a 5xx."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.test_newcomer import read_key, start_serve
from tests.support.http import free_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_schemathesis_finds_no_server_error(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LIPSYNC_DATA_DIR": str(tmp_path / "data"),
        "LIPSYNC_PORT": str(port),
        "LIPSYNC_WORKERS_PLUGINS": "tests.support.scripted_handlers",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "serve.log"
    server = start_serve(env, log)
    try:
        key = read_key(server, log, tmp_path / "data")
        fuzz = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--checks",
                "not_a_server_error",
                "-H",
                f"Authorization: Bearer {key}",
                "--max-examples",
                "30",
                "--wait-for-schema",
                "60",
                "--seed",
                "7",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        summary = fuzz.stdout[-3000:]
        assert fuzz.returncode == 0, summary
        generated = re.search(r"(\d+) generated, (\d+) passed", fuzz.stdout)
        assert generated and int(generated.group(1)) > 500, summary
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
