"""Seed 004 (LipSync.dev dialect): `/api/v1/lipsync/generate`, `/status/{jobId}`, and the
TTS its docs announce: `POST /api/v1/tts/generate` and `GET /api/v1/tts/voices`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api import examples
from api.auth import authenticate
from api.errors import ApiError, error_responses
from api.speech import Language, Speed, Text, VoiceId, speaks, voice_data
from api.studio import SUBMIT_ERRORS, IdempotencyKey, JobId
from api.submit import submit_job
from api.views import INPUT_TYPES, dev_job
from engine.job_request import JobRequest, SpokenText
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
    audioUrl: str | None = Field(
        None, min_length=1, description="URL of the audio (MP3, WAV, ...); or send `text`"
    )
    text: Text | None = Field(
        None,
        description="what to say instead of `audioUrl` (exactly one of the two), spoken here "
        "with `voice` or `language` (GET /api/v1/tts/voices lists them)",
    )
    voice: VoiceId | None = None
    language: Language | None = None
    speed: Speed | None = None
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
    if (body.audioUrl is None) == (body.text is None):
        raise ApiError(422, "invalid_request", "send exactly one of audioUrl or text")
    if body.text is None and (body.voice or body.language or body.speed is not None):
        raise ApiError(422, "invalid_request", "voice, language and speed go with text")
    model = Model.VIDEO if body.videoUrl else Model.IMAGE
    inputs: dict[str, str] = {Role.AUDIO: body.audioUrl} if body.audioUrl else {}
    speech: dict[str, SpokenText] = {}
    if body.text is not None:
        speech[Role.AUDIO] = SpokenText(
            body.text, body.voice or None, body.language or None, body.speed or 1.0
        )
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
            speech=speech,
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


# -- TTS (announced by seed 004 as "coming soon") -----------------------------------------

tts_router = APIRouter(
    prefix="/api/v1/tts", tags=["LipSync.dev dialect"], responses=error_responses(401, 429)
)


class TtsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text
    voice: VoiceId | None = None
    language: Language | None = None
    speed: Speed = 1.0


class TtsData(BaseModel):
    audioUrl: str = Field(description="a WAV; works as `audioUrl` of /api/v1/lipsync/generate")
    duration: float = Field(description="seconds of speech")
    voice: str
    language: str
    creditsUsed: int


class TtsResponse(BaseModel):
    success: bool
    data: TtsData


class VoiceData(BaseModel):
    id: str = Field(description='what `voice` names, e.g. "espeak:en-us"')
    language: str
    languages: list[str] = Field(description="every tag it answers to, most specific first")
    engine: str
    gender: str


class VoicesData(BaseModel):
    voices: list[VoiceData]


class VoicesResponse(BaseModel):
    success: bool
    data: VoicesData


@tts_router.post(
    "/generate",
    response_model=TtsResponse,
    summary="Text -> speech (WAV)",
    responses=error_responses(
        402,
        413,
        422,
        said={
            422: (
                "The text is empty or too long, the voice or language is unknown (the message "
                "lists what exists), or the speed is out of range.",
                "unknown voice 'espeak:xx'; GET /api/v1/tts/voices lists them",
            )
        },
    ),
)
async def tts_generate(
    body: TtsRequest, request: Request, key: Annotated[ApiKeyInfo, Depends(authenticate)]
) -> dict:
    """Speech alone, charged per second of speech; its `audioUrl` works as any job's voice."""
    service: Service = request.app.state.service
    spoken = await service.synthesize(
        key.account_id,
        SpokenText(body.text, body.voice or None, body.language or None, body.speed),
    )
    return {
        "success": True,
        "data": {
            "audioUrl": spoken.url,
            "duration": spoken.seconds,
            "voice": spoken.voice.id,
            "language": spoken.voice.language,
            "creditsUsed": spoken.credits,
        },
    }


@tts_router.get("/voices", response_model=VoicesResponse, summary="Voices for text")
async def tts_voices(
    request: Request,
    key: Annotated[ApiKeyInfo, Depends(authenticate)],
    language: Annotated[
        str | None, Query(max_length=64, description='only voices for this tag ("es")')
    ] = None,
) -> dict:
    service: Service = request.app.state.service
    voices = [voice_data(v) for v in service.voices() if speaks(v, language)]
    return {"success": True, "data": {"voices": voices}}
