"""The service's one rate limiter: per account for submissions in every door, by plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InsufficientCredits
from engine.job_request import JobRequest
from engine.ratelimit import RateLimited, RateLimiter
from engine.service import Service


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def job(picture: Path, tone: Path) -> JobRequest:
    return JobRequest(model="lipsync-image", inputs={"image": str(picture), "audio": str(tone)})


async def submit(service: Service, account_id: str, request: JobRequest, folder: Path) -> str:
    try:
        await service.submit(account_id, request, local_dirs=[folder])
    except InsufficientCredits:
        return "no credits"
    except RateLimited as exc:
        return f"limited {exc.retry_after}"
    return "queued"


async def test_a_bot_user_gets_ten_submissions_a_minute_and_others_are_unaffected(
    service: Service, picture: Path, tone: Path
) -> None:
    clock = Clock()
    service.rate_limiter = RateLimiter(clock=clock)
    alice = await service.user_account("telegram", 1, "alice")
    bob = await service.user_account("discord", 2, "bob")
    request = job(picture, tone)
    answers = [await submit(service, alice.id, request, picture.parent) for _ in range(11)]
    # 50 starter credits pay for five 5-s jobs; the rest are refused for credits, still counted.
    assert answers[:5] == ["queued"] * 5 and answers[5:10] == ["no credits"] * 5
    assert answers[10] == "limited 60"
    assert await submit(service, bob.id, request, picture.parent) == "queued"
    clock.now += 45
    assert await submit(service, alice.id, request, picture.parent) == "limited 15"
    clock.now += 15
    assert await submit(service, alice.id, request, picture.parent) == "no credits"
    assert len(await service.list_jobs(alice.id, limit=100)) == 5


async def test_estimates_count_when_a_door_names_the_account(
    service: Service, picture: Path, tone: Path
) -> None:
    key = await service.create_api_key("starter", 0, plan="starter")
    request = job(picture, tone)
    for _ in range(60):
        await service.estimate(request, local_dirs=[picture.parent], account_id=key.key.account_id)
    with pytest.raises(RateLimited, match="starter plan allows 60 a minute"):
        await service.estimate(request, local_dirs=[picture.parent], account_id=key.key.account_id)
    # Without an account (a quote shown before anyone asked for work) nothing is counted.
    assert (await service.estimate(request, local_dirs=[picture.parent])).credits == 10


async def test_admin_keys_and_the_machine_owner_are_not_limited(
    service: Service, picture: Path, tone: Path
) -> None:
    admin = await service.create_api_key("admin", 1000, plan="free", admin=True)
    owner = await service.create_api_key("local", 1000, plan="free")
    request = job(picture, tone)
    for _ in range(12):
        await service.submit(admin.key.account_id, request, local_dirs=[picture.parent])
        await service.submit(
            owner.key.account_id, request, local_dirs=[picture.parent], rate_limited=False
        )
    with pytest.raises(RateLimited):
        for _ in range(11):
            await service.submit(owner.key.account_id, request, local_dirs=[picture.parent])
