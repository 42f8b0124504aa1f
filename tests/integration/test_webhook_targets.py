"""`webhooks.allow_private_networks` through the service: at submit and at delivery.

Real SQLite, real worker processes (scripted renders) and the real dispatcher; only the
HTTP connection ends in an httpx.MockTransport, which sees the pinned address it was sent to.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from engine.config import Settings
from engine.errors import FetchError, InvalidInput
from engine.job_request import JobRequest
from engine.service import Service
from tests.conftest import make_settings

LAN_HOOK = "http://10.1.2.3:8080/hook"


def lan_settings(data_dir: Path, networks: list[str]) -> Settings:
    return make_settings(
        data_dir,
        webhooks={
            "allow_http": True,
            "allow_private_networks": networks,
            "first_retry_seconds": 0.2,
            "max_attempts": 2,
        },
    )


def request(picture: Path, tone: Path, *, webhook: str | None = None, **inputs: str) -> JobRequest:
    return JobRequest(
        model="lipsync-image",
        inputs={"image": str(picture), "audio": str(tone), **inputs},
        webhook=webhook,
    )


async def until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize(
    ("webhook", "inputs", "refusal"),
    [
        (LAN_HOOK, {}, None),  # an allowed LAN receiver
        ("http://192.168.1.5/hook", {}, InvalidInput),  # another private range
        ("http://127.0.0.1:9/hook", {}, InvalidInput),
        (None, {"image": "http://10.1.2.3/face.png"}, FetchError),  # inputs stay public-only
    ],
)
async def test_submit_accepts_webhooks_only_in_the_allowed_networks(
    tmp_path: Path,
    picture: Path,
    tone: Path,
    webhook: str | None,
    inputs: dict[str, str],
    refusal: type[Exception] | None,
) -> None:
    service = await Service.open(lan_settings(tmp_path / "data", ["10.0.0.0/8"]))
    try:
        account = (await service.create_api_key("k", 100, plan="pro")).key.account_id
        job_request = request(picture, tone, webhook=webhook, **inputs)
        if refusal is None:
            job = await service.submit(account, job_request, local_dirs=[picture.parent])
            assert job.webhook == webhook
        else:
            with pytest.raises(refusal, match="private or local address"):
                await service.submit(account, job_request, local_dirs=[picture.parent])
            assert await service.list_jobs(account) == []
    finally:
        await service.close()


def receiver() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def receive(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(204)

    return httpx.MockTransport(receive), seen


async def test_delivery_goes_to_the_allowed_address_it_was_checked_at(
    tmp_path: Path, picture: Path, tone: Path
) -> None:
    transport, seen = receiver()
    service = await Service.open(lan_settings(tmp_path / "data", ["10.0.0.0/8"]))
    try:
        account = (await service.create_api_key("k", 100, plan="pro")).key.account_id
        job = await service.submit(
            account, request(picture, tone, webhook=LAN_HOOK), local_dirs=[picture.parent]
        )
        service.start_webhooks(lambda job: {"id": job.id}, transport=transport)
        await service.start_workers()
        assert (await service.wait(job.id, timeout=60)).status == "completed"

        async def delivered() -> bool:
            return [d.status for d in await service.deliveries(job.id)] == ["delivered"]

        await until(delivered)
    finally:
        await service.close()
    (sent,) = seen
    assert (sent.url.host, sent.url.port, sent.url.path) == ("10.1.2.3", 8080, "/hook")
    assert sent.headers["host"] == "10.1.2.3:8080"


async def test_delivery_checks_the_address_again(tmp_path: Path, picture: Path, tone: Path) -> None:
    """A job accepted while its network was allowed, delivered after the operator took the
    network off the list: every attempt resolves and checks the address anew."""
    data = tmp_path / "data"
    service = await Service.open(lan_settings(data, ["10.0.0.0/8"]))
    try:
        account = (await service.create_api_key("k", 100, plan="pro")).key.account_id
        job = await service.submit(
            account, request(picture, tone, webhook=LAN_HOOK), local_dirs=[picture.parent]
        )
    finally:
        await service.close()

    transport, seen = receiver()
    service = await Service.open(lan_settings(data, []))
    try:
        service.start_webhooks(lambda job: {"id": job.id}, transport=transport)
        await service.start_workers()
        assert (await service.wait(job.id, timeout=60)).status == "completed"

        async def given_up() -> bool:
            found = await service.deliveries(job.id)
            return bool(found) and found[0].status == "failed"

        await until(given_up)
        (delivery,) = await service.deliveries(job.id)
        assert "private or local address" in delivery.last_error
        assert delivery.attempts == 2
    finally:
        await service.close()
    assert seen == []
