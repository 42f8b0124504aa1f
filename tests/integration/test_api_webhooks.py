"""Seed flows with webhooks over the real ASGI app and real workers (scripted renders)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from engine.config import Settings
from engine.service import Service
from engine.webhooks import verify
from tests.conftest import make_settings
from tests.support.http import Receiver, api_client

HOOK = "http://127.0.0.1:9/hook"  # served by the in-process Receiver through the transport


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path / "data",
        limits={"allow_private_urls": True},
        webhooks={"allow_http": True, "first_retry_seconds": 0.2},
    )


async def upload(client: httpx.AsyncClient, key: str, path: Path) -> str:
    r = await client.post(
        "/api/v1/files", headers={"X-API-Key": key}, files={"file": (path.name, path.read_bytes())}
    )
    return r.json()["url"]


async def wait_for(predicate, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_studio_webhook_is_signed_and_equals_the_poll_response(
    service: Service, picture: Path, tone: Path
) -> None:
    new = await service.create_api_key("k", 100)
    receiver = Receiver()
    await service.start_workers()
    async with api_client(service, receiver) as client:
        headers = {"Authorization": f"Bearer {new.secret}"}
        form = {
            "image": await upload(client, new.secret, picture),
            "audio": await upload(client, new.secret, tone),
            "resolution": "720p",
            "seed": 42,
        }
        r = await client.post(
            "/api/v1/lipsync-image", headers=headers, json={"webhook": HOOK, "formState": form}
        )
        assert r.status_code == 200 and r.json()["status"] == "processing"
        job_id = r.json()["id"]
        await wait_for(lambda: receiver.received)
        hook_headers, body = receiver.received[0]
        assert verify(service.webhook_secret(new.key.id), hook_headers, body)
        assert not verify(service.webhook_secret("other"), hook_headers, body)
        payload = json.loads(body)
        poll = (await client.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
        assert payload == poll
        assert payload["status"] == "completed" and payload["model"] == "lipsync-image"
        assert payload["output"].startswith(service.settings.base_url + "/files/outputs/")
        assert payload["error"] == "" and payload["executionTime"] >= 0
        assert set(payload["timings"]) >= {"rendering", "encoding"}
        details = (await client.get(f"/api/v1/jobs/{job_id}/details", headers=headers)).json()
        assert details["webhookDeliveries"][0]["status"] == "delivered"
        assert details["creditsCharged"] == 20


async def test_dev_dialect_flow_and_its_webhook_payload(
    service: Service, picture: Path, tone: Path
) -> None:
    new = await service.create_api_key("k", 100)
    receiver = Receiver()
    await service.start_workers()
    async with api_client(service, receiver) as client:
        headers = {"X-API-Key": new.secret}
        body = {
            "audioUrl": await upload(client, new.secret, tone),
            "imageUrl": await upload(client, new.secret, picture),
            "settings": {"resolution": "480p", "fps": 30},
            "webhookUrl": HOOK,
        }
        r = await client.post("/api/v1/lipsync/generate", headers=headers, json=body)
        data = r.json()["data"]
        assert r.json()["success"] is True
        assert data["status"] == "queued" and data["inputType"] == "image"
        assert data["estimatedCredits"] == 10 and data["estimatedTime"] >= 1
        await wait_for(lambda: receiver.received)
        payload = json.loads(receiver.received[0][1])
        assert payload["jobId"] == data["jobId"] and payload["status"] == "completed"
        assert payload["creditsUsed"] == 10
        assert payload["result"]["duration"] == pytest.approx(3.0, abs=0.05)
        status = (
            await client.get(f"/api/v1/lipsync/status/{data['jobId']}", headers=headers)
        ).json()
        assert status["data"]["outputUrl"] == payload["result"]["outputUrl"]
        assert status["data"]["createdAt"].endswith("Z")


async def test_failed_job_webhook_carries_the_error(
    service: Service, picture: Path, tone: Path
) -> None:
    new = await service.create_api_key("k", 100)
    receiver = Receiver()
    await service.start_workers()
    async with api_client(service, receiver) as client:
        body = {
            "audioUrl": await upload(client, new.secret, tone),
            "imageUrl": await upload(client, new.secret, picture),
            "webhookUrl": HOOK,
        }
        r = await client.post(
            "/api/v1/lipsync/generate", headers={"X-API-Key": new.secret}, json=body
        )
        job_id = r.json()["data"]["jobId"]
        await service.cancel(job_id)
        await wait_for(lambda: receiver.received)
        payload = json.loads(receiver.received[0][1])
        assert payload == {"jobId": job_id, "status": "canceled", "error": "canceled by the user"}


async def test_a_failing_receiver_is_retried_and_attempts_are_recorded(
    service: Service, picture: Path, tone: Path
) -> None:
    new = await service.create_api_key("k", 100)
    receiver = Receiver(statuses=[500, 503, 200])
    await service.start_workers()
    async with api_client(service, receiver) as client:
        headers = {"Authorization": f"Bearer {new.secret}"}
        form = {
            "image": await upload(client, new.secret, picture),
            "audio": await upload(client, new.secret, tone),
        }
        job_id = (
            await client.post(
                "/api/v1/lipsync-image", headers=headers, json={"webhook": HOOK, "formState": form}
            )
        ).json()["id"]
        await wait_for(lambda: len(receiver.received) == 3, timeout=20)
        ids = {h["webhook-id"] for h, _ in receiver.received}
        assert len(ids) == 1  # the same message, re-sent
        details = (await client.get(f"/api/v1/jobs/{job_id}/details", headers=headers)).json()
        delivery = details["webhookDeliveries"][0]
        assert delivery["attempts"] == 3 and delivery["status"] == "delivered"
