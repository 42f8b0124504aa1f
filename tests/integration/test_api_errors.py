"""REST error paths over the real ASGI app: each has its code and costs nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from engine.config import Settings
from engine.service import Service
from tests.conftest import make_settings
from tests.support.http import api_client


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", limits={"max_upload_bytes": 200_000})


async def upload(client: httpx.AsyncClient, key: str, path: Path) -> str:
    with path.open("rb") as f:
        r = await client.post("/api/v1/files", headers=auth(key), files={"file": (path.name, f)})
    assert r.status_code == 201, r.text
    return r.json()["url"]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def balance(client: httpx.AsyncClient, key: str) -> int:
    return (await client.get("/api/v1/balance", headers=auth(key))).json()["balance"]


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert body["success"] is False and body["error"]["message"]
    return body["error"]["code"]


async def test_missing_or_wrong_key_is_401(service: Service) -> None:
    async with api_client(service) as client:
        r = await client.get("/api/v1/jobs/x")
        assert r.status_code == 401 and error_code(r) == "unauthorized"
        r = await client.get("/api/v1/jobs/x", headers={"X-API-Key": "sk_bad_bad"})
        assert r.status_code == 401


async def test_both_header_styles_work_on_both_dialects(service: Service) -> None:
    key = (await service.create_api_key("k", 0)).secret
    async with api_client(service) as client:
        for headers in (auth(key), {"X-API-Key": key}):
            assert (await client.get("/api/v1/jobs/nope", headers=headers)).status_code == 404
            r = await client.get("/api/v1/lipsync/status/nope", headers=headers)
            assert r.status_code == 404 and error_code(r) == "not_found"


async def test_field_errors_name_the_field(service: Service, picture: Path, tone: Path) -> None:
    key = (await service.create_api_key("k", 100)).secret
    async with api_client(service) as client:
        r = await client.post(
            "/api/v1/lipsync-image",
            headers=auth(key),
            json={"formState": {"image": "https://x.example/a.png"}},
        )
        assert r.status_code == 422 and "audio" in r.json()["error"]["message"]
        r = await client.post(
            "/api/v1/lipsync-image",
            headers=auth(key),
            json={"formState": {"image": "a", "audio": "b", "colour": "red"}},
        )
        assert r.status_code == 422 and "colour" in r.json()["error"]["message"]
        r = await client.post(
            "/api/v1/lipsync-image",
            headers=auth(key),
            json={"formState": {"image": "a", "audio": "b", "resolution": "4k"}},
        )
        assert r.status_code == 422 and "resolution" in r.json()["error"]["message"]
        r = await client.post(
            "/api/v1/lipsync/generate",
            headers=auth(key),
            json={"audioUrl": "https://x.example/a.mp3"},
        )
        assert r.status_code == 422 and "videoUrl or imageUrl" in r.json()["error"]["message"]
        r = await client.post("/api/v1/lipsync-image", headers=auth(key), content=b"{not json")
        assert r.status_code == 422
        assert await balance(client, key) == 100


async def test_private_urls_are_refused_at_submit(service: Service) -> None:
    key = (await service.create_api_key("k", 100)).secret
    async with api_client(service) as client:
        r = await client.post(
            "/api/v1/lipsync-image",
            headers=auth(key),
            json={
                "formState": {
                    "image": "http://169.254.169.254/latest/meta-data",
                    "audio": "http://127.0.0.1:8000/a.wav",
                }
            },
        )
        assert r.status_code == 422 and error_code(r) == "fetch_failed"
        assert "private or local" in r.json()["error"]["message"]
        assert await balance(client, key) == 100


async def test_broken_media_and_wrong_kinds_are_refused(
    service: Service, tmp_path: Path, picture: Path, tone: Path
) -> None:
    key = (await service.create_api_key("k", 100)).secret
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3" + b"\x00garbage" * 300)
    async with api_client(service) as client:
        r = await client.post(
            "/api/v1/files", headers=auth(key), files={"file": ("broken.mp3", broken.read_bytes())}
        )
        assert r.status_code == 422 and error_code(r) == "invalid_media"
        image_url, audio_url = await upload(client, key, picture), await upload(client, key, tone)
        r = await client.post(
            "/api/v1/lipsync-image",
            headers=auth(key),
            json={"formState": {"image": audio_url, "audio": audio_url}},
        )
        assert r.status_code == 422 and "must be an image" in r.json()["error"]["message"]
        r = await client.post(
            "/api/v1/lipsync-image",
            headers=auth(key),
            json={"formState": {"image": image_url, "audio": image_url}},
        )
        assert r.status_code == 422 and "has no sound" in r.json()["error"]["message"]
        assert await balance(client, key) == 100


async def test_oversized_upload_is_413(service: Service) -> None:
    key = (await service.create_api_key("k", 0)).secret
    async with api_client(service) as client:
        r = await client.post(
            "/api/v1/files", headers=auth(key), files={"file": ("big.wav", b"\x00" * 250_000)}
        )
        assert r.status_code == 413 and error_code(r) == "file_too_large"
        assert "195 KiB" in r.json()["error"]["message"]
    assert list((service.storage.root / "uploads").iterdir()) == []


async def test_too_few_credits_is_402_and_leaves_nothing(
    service: Service, picture: Path, tone: Path
) -> None:
    key = (await service.create_api_key("k", 9)).secret
    async with api_client(service) as client:
        form = {
            "image": await upload(client, key, picture),
            "audio": await upload(client, key, tone),
        }
        r = await client.post("/api/v1/lipsync-image", headers=auth(key), json={"formState": form})
        assert r.status_code == 402 and error_code(r) == "insufficient_credits"
        assert "costs 10 credits" in r.json()["error"]["message"]
        assert (await client.get("/api/v1/jobs", headers=auth(key))).json()["jobs"] == []
        assert await balance(client, key) == 9


async def test_someone_elses_job_is_not_found(service: Service, picture: Path, tone: Path) -> None:
    owner = (await service.create_api_key("a", 100)).secret
    other = (await service.create_api_key("b", 100)).secret
    async with api_client(service) as client:
        form = {
            "image": await upload(client, owner, picture),
            "audio": await upload(client, owner, tone),
        }
        r = await client.post(
            "/api/v1/lipsync-image", headers=auth(owner), json={"formState": form}
        )
        job_id = r.json()["id"]
        assert (await client.get(f"/api/v1/jobs/{job_id}", headers=auth(other))).status_code == 404
        r = await client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth(other))
        assert r.status_code == 404


async def test_idempotency_key_returns_the_same_job_or_refuses_a_different_body(
    service: Service, picture: Path, tone: Path
) -> None:
    key = (await service.create_api_key("k", 100)).secret
    async with api_client(service) as client:
        form = {
            "image": await upload(client, key, picture),
            "audio": await upload(client, key, tone),
        }
        headers = {**auth(key), "Idempotency-Key": "order-17"}
        first = await client.post(
            "/api/v1/lipsync-image", headers=headers, json={"formState": form}
        )
        again = await client.post(
            "/api/v1/lipsync-image", headers=headers, json={"formState": form}
        )
        assert first.json()["id"] == again.json()["id"]
        changed = await client.post(
            "/api/v1/lipsync-image",
            headers=headers,
            json={"formState": {**form, "resolution": "720p"}},
        )
        assert changed.status_code == 422 and error_code(changed) == "idempotency_conflict"
        assert await balance(client, key) == 90


async def test_cancel_refunds_and_a_second_cancel_conflicts(
    service: Service, picture: Path, tone: Path
) -> None:
    key = (await service.create_api_key("k", 100)).secret
    async with api_client(service) as client:
        form = {
            "image": await upload(client, key, picture),
            "audio": await upload(client, key, tone),
        }
        job_id = (
            await client.post("/api/v1/lipsync-image", headers=auth(key), json={"formState": form})
        ).json()["id"]
        assert await balance(client, key) == 90
        r = await client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth(key))
        assert r.status_code == 200 and r.json()["status"] == "canceled"
        assert await balance(client, key) == 100
        r = await client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth(key))
        assert r.status_code == 409 and error_code(r) == "conflict"


async def test_rate_limit_answers_429_with_retry_after(service: Service) -> None:
    key = (await service.create_api_key("free", 0, plan="free")).secret
    async with api_client(service) as client:
        codes = []
        for _ in range(11):
            r = await client.post("/api/v1/jobs/none/cancel", headers=auth(key))
            codes.append(r.status_code)
        assert codes[:10] == [404] * 10 and codes[10] == 429
        assert r.headers["X-RateLimit-Limit"] == "10"
        assert r.headers["X-RateLimit-Remaining"] == "0"
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert error_code(r) == "rate_limited"
        ok = await client.get("/api/v1/balance", headers=auth(key))
        assert ok.status_code == 200 and ok.headers["X-RateLimit-Limit"] == "100"


async def test_https_only_webhooks_by_default(service: Service, picture: Path, tone: Path) -> None:
    key = (await service.create_api_key("k", 100)).secret
    async with api_client(service) as client:
        form = {
            "image": await upload(client, key, picture),
            "audio": await upload(client, key, tone),
        }
        r = await client.post(
            "/api/v1/lipsync-image",
            headers=auth(key),
            json={"webhook": "http://hooks.example/x", "formState": form},
        )
        assert r.status_code == 422 and error_code(r) == "invalid_webhook"
        assert await balance(client, key) == 100


async def test_non_admin_keys_cannot_manage_keys(service: Service) -> None:
    key = (await service.create_api_key("k", 0)).secret
    async with api_client(service) as client:
        r = await client.post("/api/v1/keys", headers=auth(key), json={"name": "x"})
        assert r.status_code == 403 and error_code(r) == "forbidden"
