"""SIGTERM is the same clean stop as Ctrl-C, for real `lipsync serve`, `worker` and bot
processes.

Stopping means: stop claiming, put the jobs in flight back without using an attempt, kill
the render processes, exit 0, and print no traceback on the way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.job_request import JobRequest
from engine.service import Service
from tests.conftest import make_settings
from tests.support.fake_telegram import FakeBotApi
from tests.support.http import free_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def start(
    command: list[str], data_dir: Path, log: Path, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LIPSYNC_")},
        "LIPSYNC_DATA_DIR": str(data_dir),
        "LIPSYNC_PORT": str(free_port()),
        "LIPSYNC_WORKERS_COUNT": "1",
        "LIPSYNC_WORKERS_PLUGINS": "tests.support.scripted_handlers",
        "LIPSYNC_WORKERS_LEASE_SECONDS": "3",
        "LIPSYNC_WORKERS_HEARTBEAT_SECONDS": "0.5",
        "LIPSYNC_WORKERS_POLL_SECONDS": "0.05",
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }
    with log.open("wb") as out:  # a file, not a terminal: as under systemd or docker
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", *command],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def is_render(pid: int) -> bool:
    """A render process, not multiprocessing's resource tracker (which leaves by itself
    once the server's end of its pipe closes)."""
    return b"resource_tracker" not in (Path("/proc") / str(pid) / "cmdline").read_bytes()


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize(
    ("command", "sig"),
    [
        (["serve"], signal.SIGTERM),
        (["serve"], signal.SIGINT),
        (["worker", "--workers", "1"], signal.SIGTERM),
        (["bot", "telegram"], signal.SIGTERM),
        (["bot", "telegram"], signal.SIGINT),
    ],
    ids=["serve-SIGTERM", "serve-SIGINT", "worker-SIGTERM", "telegram-SIGTERM", "telegram-SIGINT"],
)
async def test_a_signal_puts_the_job_back_kills_the_render_and_exits_0(
    tmp_path: Path, picture: Path, tone: Path, command: list[str], sig: signal.Signals
) -> None:
    telegram = FakeBotApi()  # the bot polls it; serve and worker never call it
    await telegram.start()
    try:
        await _stop_with_a_job_in_flight(tmp_path, picture, tone, command, sig, telegram)
    finally:
        await telegram.stop()


async def _stop_with_a_job_in_flight(
    tmp_path: Path,
    picture: Path,
    tone: Path,
    command: list[str],
    sig: signal.Signals,
    telegram: FakeBotApi,
) -> None:
    data = tmp_path / "data"
    log = tmp_path / "out.log"
    service = await Service.open(make_settings(data))
    account = (await service.create_api_key("k", 100, plan="pro")).key.account_id
    job = await service.submit(
        account,
        JobRequest(
            model="lipsync-image",
            inputs={"image": str(picture), "audio": str(tone)},
            params={"prompt": "sleep:60"},
        ),
        local_dirs=[picture.parent],
    )
    bot = {"LIPSYNC_TELEGRAM_TOKEN": telegram.token, "LIPSYNC_TELEGRAM_BASE_URL": telegram.base_url}
    process = start(command, data, log, bot)
    try:

        async def processing() -> bool:
            assert process.poll() is None, log.read_text()
            return (await service.get_job(job.id)).status == "processing"

        await wait_for(processing, 120, "the job to be claimed")
        renders = {pid for pid in children(process.pid) if is_render(pid)}
        assert renders, "the render process should be a child of the server"
        await asyncio.sleep(0.5)
        process.send_signal(sig)
        rc = await asyncio.to_thread(process.wait, 30)
    finally:
        if process.poll() is None:
            process.kill()
    output = log.read_text(errors="replace")
    assert rc == 0, output
    assert "Traceback" not in output and "BrokenPipe" not in output, output
    assert not [pid for pid in renders if alive(pid)]
    back = await service.get_job(job.id)
    assert back.status == "queued" and back.attempts == 0
    assert (await service.get_account(account)).balance == 90  # still held for the rerun
    await service.close()


async def test_first_start_on_a_log_keeps_the_admin_key_out_of_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = tmp_path / "out.log"
    process = start(["serve"], data, log)
    try:
        key_file = data / "admin-key.txt"
        await wait_for(
            lambda: asyncio.sleep(0, key_file.is_file() and "Serving on" in log.read_text()),
            120,
            "the first start",
        )
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    key = key_file.read_text().strip()
    assert key.startswith("sk_") and key not in log.read_text()
    assert str(key_file) in log.read_text()
    for private in (key_file, data / "lipsync.sqlite3"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    service = await Service.open(make_settings(data))
    try:
        assert (await service.authenticate(key)) is not None
    finally:
        await service.close()
