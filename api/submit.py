"""Submission shared by both dialects: the job goes in on the key's account, with the key
(whose secret signs the job's webhook)."""

from __future__ import annotations

from fastapi import Request

from engine.job_request import JobRequest
from engine.jobs import Job
from engine.service import ApiKeyInfo, Service


async def submit_job(request: Request, key: ApiKeyInfo, job_request: JobRequest) -> Job:
    service: Service = request.app.state.service
    return await service.submit(key.account_id, job_request, key_id=key.id)
