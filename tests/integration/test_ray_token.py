"""Joining a Ray head that wants a token this machine has, with RAY_AUTH_MODE unset.

Ray 2.60 writes ~/.ray/auth_token the first time a local runtime starts, and from then on
`ray start --head` on that machine demands it; but ray.init with an explicit address never
looks for it and fails with a bare "cannot connect". The executor sends the token as
`ray start` does. Two processes with their own HOME: one holds a head that demands the
token, the other joins it through the executor, as `lipsync serve` would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HOLD_HEAD = """
import sys
from ray.cluster_utils import Cluster
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
print(cluster.address, flush=True)
sys.stdin.readline()
cluster.shutdown()
"""

JOIN = """
import sys, ray
from engine.worker import ray_executor
ray_executor._join(sys.argv[1])
print("CPUs", ray.cluster_resources().get("CPU"))
ray_executor._leave()
"""


@pytest.mark.slow
def test_a_head_that_wants_this_machines_token_is_joined_without_setting_the_mode(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("RAY_AUTH_MODE", None)
    ray_cli = Path(sys.executable).with_name("ray")
    subprocess.run(
        [str(ray_cli), "get-auth-token", "--generate"], env=env, check=True, capture_output=True
    )
    assert (tmp_path / ".ray" / "auth_token").is_file()
    head = subprocess.Popen(
        [sys.executable, "-c", HOLD_HEAD],
        env={**env, "RAY_AUTH_MODE": "token"},  # this head demands the token
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert head.stdout is not None
        address = head.stdout.readline().strip()
        assert address, "the head did not start"
        joined = subprocess.run(
            [sys.executable, "-c", JOIN, address],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert joined.returncode == 0, joined.stderr[-2000:]
        assert "CPUs 1.0" in joined.stdout
    finally:
        if head.stdin is not None:
            head.stdin.write("\n")
            head.stdin.flush()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
