"""Submission steps shared by both dialects: webhook URL policy, then the engine."""

from __future__ import annotations

from fastapi import Request

from engine.job_request import JobRequest
from engine.jobs import Job
from engine.service import ApiKeyInfo, Service
from engine.webhooks import check_webhook_url


async def submit_job(request: Request, key: ApiKeyInfo, job_request: JobRequest) -> Job:
    service: Service = request.app.state.service
    if job_request.webhook:
        await check_webhook_url(job_request.webhook, service.settings)
    return await service.submit(key.account_id, job_request)
