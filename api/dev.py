"""Seed 004 (LipSync.dev dialect): `/api/v1/lipsync/generate` and `/status/{jobId}`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api import examples
from api.auth import authenticate
from api.errors import ApiError, error_responses
from api.studio import SUBMIT_ERRORS, IdempotencyKey, JobId
from api.submit import submit_job
from api.views import INPUT_TYPES, dev_job
from engine.job_request import JobRequest
from engine.service import ApiKeyInfo, Service
from engine.vocabulary import Model, Resolution, Role

router = APIRouter(
    prefix="/api/v1/lipsync", tags=["LipSync.dev dialect"], responses=error_responses(401, 429)
)


class GenerateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: Resolution = Field(Resolution.P720, description="default 720p")
    fps: int | None = Field(
        None, ge=24, le=60, description="default 25 for a photo; a video keeps its own rate"
    )
    maxDuration: float | None = Field(None, gt=0, description="cut the output at this many seconds")


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    audioUrl: str = Field(min_length=1, description="URL of the audio (MP3, WAV, ...)")
    videoUrl: str | None = Field(None, description="source video: video-to-video lipsync")
    imageUrl: str | None = Field(None, description="portrait photo: image-to-video lipsync")
    settings: GenerateSettings = Field(default_factory=GenerateSettings)
    webhookUrl: str | None = None


class GenerateData(BaseModel):
    jobId: str
    status: str
    inputType: str
    estimatedCredits: int
    estimatedTime: int


class GenerateResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples.GENERATED)
    success: bool
    data: GenerateData


class StatusData(BaseModel):
    jobId: str
    inputType: str
    status: str
    outputUrl: str | None
    createdAt: str | None
    updatedAt: str | None
    processingTime: int | None
    error: str | None = None


class StatusResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples.DEV_STATUS)
    success: bool
    data: StatusData


@router.post(
    "/generate",
    response_model=GenerateResponse,
    summary="Video or image + audio",
    responses=SUBMIT_ERRORS,
)
async def generate(
    body: Annotated[GenerateRequest, Body(openapi_examples=examples.GENERATE)],
    request: Request,
    key: Annotated[ApiKeyInfo, Depends(authenticate)],
    idem: IdempotencyKey = None,
) -> dict:
    if bool(body.videoUrl) == bool(body.imageUrl):
        raise ApiError(422, "invalid_request", "send exactly one of videoUrl or imageUrl")
    model = Model.VIDEO if body.videoUrl else Model.IMAGE
    inputs = {Role.AUDIO: body.audioUrl}
    inputs[Role.VIDEO if body.videoUrl else Role.IMAGE] = body.videoUrl or body.imageUrl or ""
    params: dict = {"resolution": body.settings.resolution}
    if body.settings.fps is not None:
        params["fps"] = body.settings.fps
    if body.settings.maxDuration is not None:
        params["max_duration"] = body.settings.maxDuration
    job = await submit_job(
        request,
        key,
        JobRequest(
            model=model,
            inputs=inputs,
            params=params,
            webhook=body.webhookUrl,
            idempotency_key=idem,
            source="dev",
        ),
    )
    service: Service = request.app.state.service
    estimate = service.quote(job.model, job.params, {Role.AUDIO: job.estimate_seconds})
    return {
        "success": True,
        "data": {
            "jobId": job.id,
            "status": job.status,
            "inputType": INPUT_TYPES[job.model],
            "estimatedCredits": job.estimate,
            "estimatedTime": estimate.estimated_time,
        },
    }


@router.get(
    "/status/{job_id}",
    response_model=StatusResponse,
    summary="Job status",
    responses=error_responses(404),
)
async def status(
    job_id: JobId, request: Request, key: Annotated[ApiKeyInfo, Depends(authenticate)]
) -> dict:
    service: Service = request.app.state.service
    job = await service.get_job(job_id, account_id=key.account_id)
    return {"success": True, "data": dev_job(job, service)}
