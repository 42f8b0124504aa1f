"""The executor settings, and the clear refusal to start `ray` where Ray is not installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import load_settings
from engine.errors import ConfigError
from engine.service import Service
from tests.conftest import make_settings
from tests.support.http import free_port

REPO = Path(__file__).resolve().parents[2]
# What a Python without the `ray` extra does on `import ray`: None in sys.modules makes the
# import machinery raise ImportError, whatever is installed in this venv.
WITHOUT_RAY = "import sys; sys.modules['ray'] = None; "


def test_executor_keys_come_from_the_environment_with_fractional_gpus() -> None:
    settings = load_settings(
        path=None,
        env={
            "LIPSYNC_WORKERS_EXECUTOR": "ray",
            "LIPSYNC_WORKERS_RAY_ADDRESS": "10.0.0.5:6379",
            "LIPSYNC_WORKERS_RAY_NUM_CPUS": "2",
            "LIPSYNC_WORKERS_RAY_NUM_GPUS": "0.5",
        },
    )
    workers = settings.workers
    assert (workers.executor, workers.ray_address) == ("ray", "10.0.0.5:6379")
    assert (workers.ray_num_cpus, workers.ray_num_gpus) == (2.0, 0.5)
    default = load_settings(path=None, env={}).workers
    assert (default.executor, default.ray_address) == ("local", "")


@pytest.mark.parametrize(
    ("workers", "message"),
    [
        ({"executor": "kubernetes"}, 'workers.executor must be "local" or "ray"'),
        ({"ray_num_gpus": -1}, "workers.ray_num_gpus must not be negative"),
        ({"ray_num_cpus": -0.5}, "workers.ray_num_cpus must not be negative"),
    ],
)
def test_bad_executor_settings_stop_the_start(workers: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(path=None, env={}, overrides={"workers": workers})


async def test_ray_executor_without_ray_refuses_to_start_the_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    service = await Service.open(make_settings(tmp_path / "d", workers={"executor": "ray"}))
    try:
        with pytest.raises(ConfigError, match=r"pip install '\.\[ray\]'") as caught:
            await service.start_workers()
        assert "workers.executor" in str(caught.value)
        assert service.pool is not None and service.pool.renderers == []  # nothing started
    finally:
        await service.close()


def test_lipsync_serve_without_ray_says_how_to_install_it(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LIPSYNC_")},
        "LIPSYNC_DATA_DIR": str(tmp_path / "data"),
        "LIPSYNC_PORT": str(free_port()),
        "LIPSYNC_WORKERS_EXECUTOR": "ray",
        "LIPSYNC_WORKERS_COUNT": "1",
        "PYTHONPATH": str(REPO),
    }
    code = WITHOUT_RAY + "from cli.main import main; sys.exit(main(['serve']))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install '.[ray]'" in done.stderr
    assert "Traceback" not in done.stderr
