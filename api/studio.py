"""Seeds 000-003 (lipsync.studio dialect): `{webhook?, formState: {...}}` in, `{id, status}` out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api import examples
from api.auth import authenticate
from api.errors import error_responses
from api.speech import Language, Speed, Text, VoiceId, pop_speech
from api.submit import submit_job
from api.views import studio_job, studio_status
from engine.job_request import JobRequest
from engine.service import ApiKeyInfo, Service
from engine.vocabulary import Model, Order, Resolution, Role, SyncMode

router = APIRouter(
    prefix="/api/v1", tags=["lipsync.studio dialect"], responses=error_responses(401, 429)
)
# A submission: its body, its price held from the balance, its inputs fetched.
SUBMIT_ERRORS = error_responses(400, 402, 413, 422)

Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=16_000_000,
        description="public URL, data: URI or uploaded file URL",
    ),
]


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: Resolution | None = Field(
        None, description='"480p" (default) or "720p"; also "1080p"'
    )
    mask_image: Url | None = Field(
        None, description="image whose white area limits what may change"
    )
    prompt: str | None = Field(
        None, max_length=2000, description="style hint, e.g. 'calm, still head'"
    )
    seed: int | None = Field(None, ge=0, description="same seed, same video")
    fps: int | None = Field(
        None, ge=24, le=60, description="frames per second (default 25; a video keeps its own rate)"
    )


class VideoForm(_Common):
    video: Url = Field(description="source video (MP4, MOV, WebM, MKV)")
    audio: Url | None = Field(None, description="new voice (MP3, WAV, OGG, M4A, ...); or `text`")
    text: Text | None = Field(None, description="what to say instead of `audio` (one of the two)")
    voice: VoiceId | None = None
    language: Language | None = None
    speed: Speed | None = None
    sync_mode: SyncMode | None = Field(
        None,
        description="when the audio outlasts the video: play it back and forth (bounce, "
        "default), loop it, or freeze the last frame",
    )


class ImageForm(_Common):
    image: Url = Field(description="portrait photo (JPEG, PNG, WebP)")
    audio: Url | None = Field(None, description="voice (MP3, WAV, OGG, M4A, ...); or `text`")
    text: Text | None = Field(None, description="what to say instead of `audio` (one of the two)")
    voice: VoiceId | None = None
    language: Language | None = None
    speed: Speed | None = None


class MultiForm(_Common):
    image: Url = Field(description="photo showing two people")
    left_audio: Url | None = Field(None, description="voice of the person on the left")
    right_audio: Url | None = Field(None, description="voice of the person on the right")
    left_text: Text | None = Field(None, description="what the left one says, instead of audio")
    right_text: Text | None = Field(None, description="what the right one says, instead of audio")
    voice: VoiceId | None = Field(None, description="the voice of both texts")
    left_voice: VoiceId | None = Field(None, description="the left text's voice (over `voice`)")
    right_voice: VoiceId | None = Field(None, description="the right text's voice (over `voice`)")
    language: Language | None = None
    speed: Speed | None = None
    order: Order | None = Field(
        None, description="meanwhile (both at once, default), left_right or right_left"
    )


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    webhook: str | None = Field(None, description="HTTPS URL we POST the result to")


class VideoRequest(_Envelope):
    formState: VideoForm


class ImageRequest(_Envelope):
    formState: ImageForm


class MultiRequest(_Envelope):
    formState: MultiForm


class Accepted(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples.ACCEPTED)
    id: str
    status: str


class StudioJob(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples.STUDIO_JOB)
    id: str
    model: str
    status: str
    output: str | None
    error: str
    executionTime: int | None
    timings: dict[str, float] | None


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="the same key and body return the same job; another body is refused (422)",
    ),
]
# The seeds' `/jobs/{requestId}`, under one name on every route.
JobId = Annotated[
    str, Path(description="the id a submit returned (the seeds' `requestId`, `jobId`)")
]
ROLE_FIELDS = tuple(Role)


async def _submit(
    request: Request, key: ApiKeyInfo, model: str, body: _Envelope, idem: str | None
) -> dict:
    form = body.formState.model_dump(exclude_none=True)  # type: ignore[attr-defined]
    speech = pop_speech(form)
    inputs = {k: form.pop(k) for k in ROLE_FIELDS if k in form}
    job = await submit_job(
        request,
        key,
        JobRequest(
            model=model,
            inputs=inputs,
            params=form,
            webhook=body.webhook,
            idempotency_key=idem,
            source="studio",
            speech=speech,
        ),
    )
    return {"id": job.id, "status": studio_status(job.status)}


@router.post(
    "/lipsync-video",
    response_model=Accepted,
    summary="Video + new audio -> dubbed video",
    responses=SUBMIT_ERRORS,
)
async def lipsync_video(
    body: Annotated[VideoRequest, Body(openapi_examples=examples.VIDEO)],
    request: Request,
    key: Annotated[ApiKeyInfo, Depends(authenticate)],
    idem: IdempotencyKey = None,
) -> dict:
    return await _submit(request, key, Model.VIDEO, body, idem)


@router.post(
    "/lipsync-image",
    response_model=Accepted,
    summary="Photo + audio -> talking portrait",
    responses=SUBMIT_ERRORS,
)
async def lipsync_image(
    body: Annotated[ImageRequest, Body(openapi_examples=examples.IMAGE)],
    request: Request,
    key: Annotated[ApiKeyInfo, Depends(authenticate)],
    idem: IdempotencyKey = None,
) -> dict:
    return await _submit(request, key, Model.IMAGE, body, idem)


@router.post(
    "/lipsync-image-multi",
    response_model=Accepted,
    summary="Photo of two + two audios -> dialogue",
    responses=SUBMIT_ERRORS,
)
async def lipsync_image_multi(
    body: Annotated[MultiRequest, Body(openapi_examples=examples.MULTI)],
    request: Request,
    key: Annotated[ApiKeyInfo, Depends(authenticate)],
    idem: IdempotencyKey = None,
) -> dict:
    return await _submit(request, key, Model.IMAGE_MULTI, body, idem)


@router.get(
    "/jobs/{job_id}",
    response_model=StudioJob,
    summary="Job status and result",
    responses=error_responses(404),
)
async def get_job(
    job_id: JobId, request: Request, key: Annotated[ApiKeyInfo, Depends(authenticate)]
) -> dict:
    """The seeds' `GET /api/v1/jobs/{requestId}`: poll every 5-10 seconds until `status` is
    `completed` (then `output` is the video's URL) or `failed` (then `error` says why)."""
    service: Service = request.app.state.service
    job = await service.get_job(job_id, account_id=key.account_id)
    return studio_job(job, service)
