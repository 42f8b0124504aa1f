"""How a job looks in each dialect: the seeds' own field names, nothing renamed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.jobs import Job
from engine.service import Service
from engine.vocabulary import Model, Status

INPUT_TYPES = {Model.VIDEO: "video", Model.IMAGE: "image", Model.IMAGE_MULTI: "image"}


_UNSUCCESSFUL = (Status.FAILED, Status.CANCELED)


def studio_status(status: str) -> str:
    # Seeds 000-003 know processing / completed / failed: a queued job is "processing".
    return Status.PROCESSING if status == Status.QUEUED else status


def studio_job(job: Job, service: Service) -> dict[str, Any]:
    """Seeds 000-003: the poll response and the webhook body are this same object."""
    return {
        "id": job.id,
        "model": job.model,
        "status": studio_status(job.status),
        "output": service.output_url(job) if job.status == Status.COMPLETED else None,
        "error": job.error if job.status in _UNSUCCESSFUL else "",
        "executionTime": job.execution_ms if job.status == Status.COMPLETED else None,
        "timings": job.timings or None,
    }


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return (
        dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def dev_job(job: Job, service: Service) -> dict[str, Any]:
    """Seed 004's status `data` object."""
    data: dict[str, Any] = {
        "jobId": job.id,
        "inputType": INPUT_TYPES[job.model],
        "status": job.status,
        "outputUrl": service.output_url(job) if job.status == Status.COMPLETED else None,
        "createdAt": iso(job.created_at),
        "updatedAt": iso(job.updated_at),
        "processingTime": round(job.execution_ms / 1000) if job.execution_ms else None,
    }
    if job.status in _UNSUCCESSFUL:
        data["error"] = job.error
    return data


def dev_webhook(job: Job, service: Service) -> dict[str, Any]:
    """Seed 004's webhook payloads: success with result and credits, or the error form."""
    if job.status == Status.COMPLETED:
        return {
            "jobId": job.id,
            "status": Status.COMPLETED,
            "result": {
                "outputUrl": service.output_url(job),
                "duration": round(job.output_seconds or 0.0, 3),
            },
            "creditsUsed": job.charged or 0,
        }
    return {"jobId": job.id, "status": job.status, "error": job.error}


def job_detail(job: Job, service: Service) -> dict[str, Any]:
    """The extended view (beyond the seeds) used by listing and the CLI-like endpoints."""
    return {
        "id": job.id,
        "model": job.model,
        "status": job.status,
        "stage": job.stage,
        "progress": round(job.progress, 3),
        "params": job.params,
        "output": service.output_url(job),
        "outputSeconds": job.output_seconds,
        "estimatedCredits": job.estimate,
        "creditsCharged": job.charged,
        "error": job.error,
        "errorCode": job.error_code,
        "attempts": job.attempts,
        "executionTime": job.execution_ms,
        "timings": job.timings or None,
        "createdAt": iso(job.created_at),
        "updatedAt": iso(job.updated_at),
        "finishedAt": iso(job.finished_at),
    }
