"""`workers.executor = "ray"`: the real pool and REST with renders on a real Ray cluster.

One cluster for the module (a head and a second node process, one CPU each, so two render
actors of one CPU can only run on two different nodes); each test opens its own service
with its own SQLite file, joins the cluster and leaves it when the service closes. The
scripted handlers (tests/support/scripted_handlers.py) are the renders, loaded into the
actors through `workers.plugins` exactly as into local render processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray  # the `ray` extra, which `make setup` installs: never skipped quietly
from ray.cluster_utils import Cluster

from engine.errors import ConfigError
from engine.service import Service
from tests.conftest import make_settings
from tests.support.http import api_client, free_port

SCRIPTED_OUTPUT = b"not a video: scripted handler output"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address)  # wait_for_nodes reads the cluster's state
    try:
        cluster.wait_for_nodes()
    finally:
        ray.shutdown()  # each service joins (and leaves) the cluster itself
    yield cluster
    cluster.shutdown()


@pytest.fixture
async def ray_service(tmp_path: Path, cluster: Cluster) -> AsyncIterator[Service]:
    settings = make_settings(
        tmp_path / "data",
        workers={"executor": "ray", "ray_address": cluster.address, "ray_num_cpus": 1},
    )
    service = await Service.open(settings)
    yield service
    await service.close()


async def upload(client: httpx.AsyncClient, key: str, path: Path) -> str:
    r = await client.post(
        "/api/v1/files", headers={"X-API-Key": key}, files={"file": (path.name, path.read_bytes())}
    )
    assert r.status_code == 201, r.text
    return r.json()["url"]


async def submit(
    client: httpx.AsyncClient, key: str, picture: Path, tone: Path, prompt: str = ""
) -> str:
    form = {
        "image": await upload(client, key, picture),
        "audio": await upload(client, key, tone),
        "resolution": "720p",
        "prompt": prompt,
    }
    r = await client.post(
        "/api/v1/lipsync-image",
        headers={"Authorization": f"Bearer {key}"},
        json={"formState": form},
    )
    assert r.status_code == 200, r.text
    return r.json()["id"]


async def poll_until(
    client: httpx.AsyncClient, key: str, job_id: str, done: Any, timeout: float = 60
) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = await client.get(
            f"/api/v1/jobs/{job_id}/details", headers={"Authorization": f"Bearer {key}"}
        )
        body = r.json()
        assert r.status_code == 200, body
        if done(body):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never got there: {body}")


def finished(job: dict) -> bool:
    return job["status"] in ("completed", "failed", "canceled")


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


async def gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return not alive(pid)


async def kinds_for(service: Service, account: str, job_id: str) -> list[str]:
    entries = reversed(await service.ledger_entries(account, limit=100))
    return [e.kind for e in entries if e.job_id == job_id]


async def test_a_rest_job_renders_in_an_actor_with_progress_and_is_charged_once(
    ray_service: Service, picture: Path, tone: Path
) -> None:
    new = await ray_service.create_api_key("k", 100, plan="pro")
    pool = await ray_service.start_workers()
    (renderer,) = pool.renderers
    assert renderer.where.startswith("ray node ")
    actor_pid = renderer.pid
    async with api_client(ray_service) as client:
        job_id = await submit(client, new.secret, picture, tone, "sleep:1.5")
        # Progress comes back from the actor while it renders, through the heartbeat.
        midway = await poll_until(client, new.secret, job_id, lambda b: 0 < b["progress"] < 1)
        assert midway["status"] == "processing"
        done = await poll_until(client, new.secret, job_id, finished)
        assert done["status"] == "completed", done
        assert set(done["timings"]) >= {"rendering", "encoding"}
        # The actor's output bytes came back and are served by this node's storage.
        served = await client.get(done["output"].removeprefix(ray_service.settings.base_url))
        assert served.status_code == 200 and served.content == SCRIPTED_OUTPUT
    job = await ray_service.get_job(job_id)
    assert job.charged == 20 and job.attempts == 1
    assert await kinds_for(ray_service, new.key.account_id, job_id) == ["reserve", "charge"]
    assert (await ray_service.get_account(new.key.account_id)).balance == 80
    assert pool.renderers[0] is renderer and renderer.pid == actor_pid  # the actor stays warm
    assert list(ray_service.storage.root.joinpath("work").iterdir()) == []


async def test_a_text_job_is_spoken_in_the_actor_and_charged_on_that_speech(
    ray_service: Service, picture: Path
) -> None:
    """The job keeps only the text; it travels to the actor, which speaks it before the
    render, and the charge is for the speech made there (under the bound held)."""
    new = await ray_service.create_api_key("k", 100, plan="pro")
    await ray_service.start_workers()
    async with api_client(ray_service) as client:
        form = {
            "image": await upload(client, new.secret, picture),
            "text": "Hello there, how are you?",
            "voice": "espeak:en-us",
            "resolution": "480p",
        }
        r = await client.post(
            "/api/v1/lipsync-image",
            headers={"Authorization": f"Bearer {new.secret}"},
            json={"formState": form},
        )
        assert r.status_code == 200, r.text
        done = await poll_until(client, new.secret, r.json()["id"], finished)
    assert done["status"] == "completed", (done["error"], done)
    assert "speaking" in done["timings"]
    job = await ray_service.get_job(done["id"])
    assert 0.8 < (job.output_seconds or 0) <= job.estimate_seconds
    assert job.charged == 10 <= job.estimate  # 480p: the 5 s minimum at 2 credits/s
    assert (await ray_service.get_account(new.key.account_id)).balance == 90


async def test_cancel_mid_render_stops_the_actor_refunds_and_the_slot_renders_again(
    ray_service: Service, picture: Path, tone: Path
) -> None:
    new = await ray_service.create_api_key("k", 100, plan="pro")
    pool = await ray_service.start_workers()
    first_pid = pool.renderers[0].pid
    async with api_client(ray_service) as client:
        slow = await submit(client, new.secret, picture, tone, "sleep:30")
        await poll_until(client, new.secret, slow, lambda b: b["progress"] > 0)
        r = await client.post(
            f"/api/v1/jobs/{slow}/cancel", headers={"Authorization": f"Bearer {new.secret}"}
        )
        assert r.status_code == 200 and r.json()["status"] == "canceled"
        assert await gone(first_pid), "the canceled render's actor is still running"
        quick = await submit(client, new.secret, picture, tone)
        done = await poll_until(client, new.secret, quick, finished)
        assert done["status"] == "completed", done
    assert pool.renderers[0].pid != first_pid
    # The killed actor could not clean up; the next actor on that node did.
    assert list(Path(tempfile.gettempdir()).glob(f"lipsync-render-{first_pid}-*")) == []
    assert (await ray_service.get_job(slow)).status == "canceled"
    assert await kinds_for(ray_service, new.key.account_id, slow) == ["reserve", "refund"]
    assert (await ray_service.get_account(new.key.account_id)).balance == 100 - 20


async def test_an_actor_killed_mid_render_is_a_crash_and_the_job_is_retried(
    ray_service: Service, picture: Path, tone: Path
) -> None:
    new = await ray_service.create_api_key("k", 100, plan="pro")
    pool = await ray_service.start_workers()
    pid = pool.renderers[0].pid
    async with api_client(ray_service) as client:
        job_id = await submit(client, new.secret, picture, tone, "sleep:2")
        await poll_until(client, new.secret, job_id, lambda b: b["progress"] > 0)
        os.kill(pid, signal.SIGKILL)  # as the OOM killer or a lost node would
        done = await poll_until(client, new.secret, job_id, lambda b: b["status"] == "completed")
        assert done["status"] == "completed"
    job = await ray_service.get_job(job_id)
    assert job.attempts == 2  # the killed try used an attempt, like a crashed process
    assert pool.renderers[0].pid != pid
    assert await kinds_for(ray_service, new.key.account_id, job_id) == ["reserve", "charge"]
    assert (await ray_service.get_account(new.key.account_id)).balance == 80


async def test_two_jobs_render_at_once_on_the_two_nodes(
    ray_service: Service, picture: Path, tone: Path
) -> None:
    new = await ray_service.create_api_key("k", 100, plan="pro")
    pool = await ray_service.start_workers(2)
    nodes = {r.node_id for r in pool.renderers}  # type: ignore[attr-defined]
    assert len(nodes) == 2  # one CPU per node, one CPU per actor: one actor on each
    async with api_client(ray_service) as client:
        ids = [await submit(client, new.secret, picture, tone, "sleep:2") for _ in range(2)]
        started = time.monotonic()
        for job_id in ids:  # both are rendering at the same moment, one on each node
            await poll_until(client, new.secret, job_id, lambda b: b["progress"] > 0)
        both_running = [(await ray_service.get_job(i)).status for i in ids]
        assert both_running == ["processing", "processing"]
        for job_id in ids:
            done = await poll_until(client, new.secret, job_id, finished)
            assert done["status"] == "completed", done
        assert time.monotonic() - started < 2 * 2.0  # side by side, not one after the other
    assert {r.node_id for r in pool.renderers} == nodes  # type: ignore[attr-defined]
    for job_id in ids:
        assert await kinds_for(ray_service, new.key.account_id, job_id) == ["reserve", "charge"]


async def test_a_clean_stop_puts_the_job_back_without_an_attempt_and_ends_its_actor(
    tmp_path: Path, cluster: Cluster, picture: Path, tone: Path
) -> None:
    settings = make_settings(
        tmp_path / "data", workers={"executor": "ray", "ray_address": cluster.address}
    )
    service = await Service.open(settings)
    new = await service.create_api_key("k", 100, plan="pro")
    pool = await service.start_workers()
    pid = pool.renderers[0].pid
    async with api_client(service) as client:
        job_id = await submit(client, new.secret, picture, tone, "sleep:30")
        await poll_until(client, new.secret, job_id, lambda b: b["progress"] > 0)
    await service.close()  # what SIGINT and SIGTERM do in `lipsync serve`
    assert await gone(pid), "the actor outlived the service"
    reopened = await Service.open(settings)
    try:
        job = await reopened.get_job(job_id)
        assert (job.status, job.attempts) == ("queued", 0)
        assert (await reopened.get_account(new.key.account_id)).balance == 80  # still held
    finally:
        await reopened.close()


async def test_a_stopped_actor_is_noticed_by_the_progress_watch_and_replaced(
    tmp_path: Path, cluster: Cluster, picture: Path, tone: Path
) -> None:
    """SIGSTOP: the actor neither renders nor answers its progress polls; only the watch
    can see it, and killing it must work on a process that cannot answer."""
    settings = make_settings(
        tmp_path / "data",
        workers={
            "executor": "ray",
            "ray_address": cluster.address,
            "stall_seconds": 1.0,
            "max_attempts": 1,
        },
    )
    service = await Service.open(settings)
    try:
        new = await service.create_api_key("k", 100, plan="pro")
        pool = await service.start_workers()
        pid = pool.renderers[0].pid
        async with api_client(service) as client:
            stuck = await submit(client, new.secret, picture, tone, "stop")
            after = await submit(client, new.secret, picture, tone)
            failed = await poll_until(client, new.secret, stuck, finished)
            assert failed["status"] == "failed" and failed["errorCode"] == "worker_crashed"
            assert "no progress for 1 s" in failed["error"]
            done = await poll_until(client, new.secret, after, finished)
            assert done["status"] == "completed", done
        assert await gone(pid), "the stopped actor was left behind"
        assert (await service.get_account(new.key.account_id)).balance == 80
    finally:
        await service.close()


async def test_an_address_where_no_cluster_answers_stops_the_start_at_once(
    tmp_path: Path,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = make_settings(tmp_path / "data", workers={"executor": "ray", "ray_address": address})
    service = await Service.open(settings)
    try:
        started = time.monotonic()
        with pytest.raises(ConfigError, match=f"cannot connect to {address}.*nothing answers"):
            await service.start_workers()
        assert time.monotonic() - started < 30
        assert not ray.is_initialized()
    finally:
        await service.close()


async def test_more_slots_than_the_cluster_holds_stops_the_start_saying_so(
    tmp_path: Path, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.worker import ray_executor

    monkeypatch.setattr(ray_executor, "READY_TIMEOUT", 3.0)  # instead of minutes
    settings = make_settings(
        tmp_path / "data", workers={"executor": "ray", "ray_address": cluster.address}
    )
    service = await Service.open(settings)
    try:
        with pytest.raises(ConfigError, match=r"no Ray node could take a render actor \(1.0 CPU"):
            await service.start_workers(3)  # two nodes of one CPU, one CPU per actor
        assert not ray.is_initialized()  # the pool left the cluster, its actors with it
    finally:
        await service.close()


async def test_a_lost_node_is_a_crash_and_its_slot_waits_for_room_without_spending_jobs(
    tmp_path: Path,
    cluster: Cluster,
    picture: Path,
    tone: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine.worker import ray_executor

    monkeypatch.setattr(ray_executor, "READY_TIMEOUT", 2.0)  # the lost slot's tries
    doomed = cluster.add_node(num_cpus=1)
    settings = make_settings(
        tmp_path / "data", workers={"executor": "ray", "ray_address": cluster.address}
    )
    service = await Service.open(settings)
    try:
        new = await service.create_api_key("k", 100, plan="pro")
        pool = await service.start_workers(3)  # an actor on each of the three nodes
        assert doomed.node_id in {r.node_id for r in pool.renderers}  # type: ignore[attr-defined]
        async with api_client(service) as client:
            ids = [await submit(client, new.secret, picture, tone, "sleep:3") for _ in range(3)]
            for job_id in ids:
                await poll_until(client, new.secret, job_id, lambda b: b["progress"] > 0)
            cluster.remove_node(doomed, allow_graceful=False)  # power cut
            for job_id in ids:
                done = await poll_until(client, new.secret, job_id, finished)
                assert done["status"] == "completed", done
        # The lost render ran again on a surviving node; the slot whose node is gone found
        # no room for a new actor and claimed nothing meanwhile (no attempt spent on it).
        assert sorted([(await service.get_job(i)).attempts for i in ids]) == [1, 1, 2]
        for job_id in ids:
            assert await kinds_for(service, new.key.account_id, job_id) == ["reserve", "charge"]
        assert (await service.get_account(new.key.account_id)).balance == 100 - 3 * 20
        nodes = {r.node_id for r in pool.renderers}  # type: ignore[attr-defined]
        assert doomed.node_id not in nodes
    finally:
        await service.close()
