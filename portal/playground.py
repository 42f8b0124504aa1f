"""The playground: make a video in the browser, spending the person's user credits.

The page's script uploads each file as soon as it is chosen (`POST /playground/files`),
asks the price of what is filled in (`/playground/estimate`), submits (`/playground/jobs`)
and follows the job (`GET /playground/jobs/{id}`) until the video plays in the page. These
answer JSON; every POST carries the session's CSRF token in the `X-CSRF-Token` header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from engine.errors import LipsyncError
from engine.job_request import JobRequest, input_kinds
from engine.jobs import Job
from engine.service import Service, SignedIn
from engine.vocabulary import CHAT_RESOLUTIONS, Model, Order, Status
from portal.web import CSRF_HEADER, csrf_ok, page, service_of, signed_in, to_sign_in

router = APIRouter(include_in_schema=False)
UPLOAD_PATH = "/playground/files"
SOURCE = "portal"
CHUNK = 1024 * 1024
HISTORY = 30
MODEL_NAMES = {
    Model.IMAGE: "Talking photo",
    Model.IMAGE_MULTI: "Two people talking",
    Model.VIDEO: "Dub a video",
}


class PlaygroundOrder(BaseModel):
    """What the form sends: the model, an uploaded file's URL per role, the settings."""

    model_config = ConfigDict(extra="forbid")
    model: Model
    inputs: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)

    def request(self) -> JobRequest:
        roles = input_kinds(self.model)
        inputs = {role: url for role, url in self.inputs.items() if url and role in roles}
        params = {key: value for key, value in self.params.items() if value not in (None, "")}
        return JobRequest(model=self.model, inputs=inputs, params=params, source=SOURCE)


@router.get("/playground", response_class=HTMLResponse)
async def playground(request: Request) -> Response:
    who = await signed_in(request)
    if who is None:
        return to_sign_in(request)
    service = service_of(request)
    account = await service.get_account(who.user.user_account_id)
    context = {
        "balance": account.balance,
        "models": MODEL_NAMES,
        "resolutions": CHAT_RESOLUTIONS,
        "orders": list(Order),
        "max_upload": service.settings.limits.max_upload_bytes,
    }
    return page(request, "playground.html", who, context)


@router.get("/jobs", response_class=HTMLResponse)
async def history(request: Request) -> Response:
    who = await signed_in(request)
    if who is None:
        return to_sign_in(request)
    service = service_of(request)
    jobs = await service.list_jobs(who.user.user_account_id, limit=HISTORY)
    shown = [{"job": job, **_view(service, job)} for job in jobs]
    return page(request, "jobs.html", who, {"jobs": shown, "names": MODEL_NAMES})


@router.post(UPLOAD_PATH)
async def upload(request: Request, file: Annotated[UploadFile, File()]) -> Response:
    who, refused = await _caller(request)
    if who is None:
        return refused

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await file.read(CHUNK):
            yield chunk

    try:
        stored = await service_of(request).store_upload(chunks())
    except LipsyncError as exc:
        return _error(exc)
    return JSONResponse(
        {"url": stored.url, "kind": stored.kind, "duration": stored.duration}, status_code=201
    )


@router.post("/playground/estimate")
async def estimate(request: Request, order: PlaygroundOrder) -> Response:
    who, refused = await _caller(request)
    if who is None:
        return refused
    service = service_of(request)
    account_id = who.user.user_account_id
    try:
        quote = await service.estimate(order.request(), account_id=account_id)
    except LipsyncError as exc:
        return _error(exc)
    balance = (await service.get_account(account_id)).balance
    return JSONResponse(
        {
            "credits": quote.credits,
            "seconds": round(quote.output_seconds, 2),
            "billableSeconds": quote.billable_seconds,
            "balance": balance,
            "affordable": balance >= quote.credits,
        }
    )


@router.post("/playground/jobs")
async def submit(request: Request, order: PlaygroundOrder) -> Response:
    who, refused = await _caller(request)
    if who is None:
        return refused
    service = service_of(request)
    try:
        job = await service.submit(who.user.user_account_id, order.request())
    except LipsyncError as exc:
        return _error(exc)
    return JSONResponse(_status(service, job), status_code=202)


@router.get("/playground/jobs/{job_id}")
async def status(request: Request, job_id: str) -> Response:
    who = await signed_in(request)
    if who is None:
        return JSONResponse({"error": "sign in first"}, status_code=401)
    service = service_of(request)
    try:
        job = await service.get_job(job_id, account_id=who.user.user_account_id)
    except LipsyncError as exc:
        return _error(exc)
    return JSONResponse(_status(service, job))


async def _caller(request: Request) -> tuple[SignedIn | None, Response]:
    """The signed-in person of a script's POST, or why not (401, or 403 without CSRF)."""
    who = await signed_in(request)
    if who is None:
        return None, JSONResponse({"error": "sign in first"}, status_code=401)
    if not csrf_ok(who, request.headers.get(CSRF_HEADER)):
        return None, JSONResponse({"error": "reload the page and try again"}, status_code=403)
    return who, Response()


def _status(service: Service, job: Job) -> dict[str, Any]:
    view = _view(service, job)
    return {
        "id": job.id,
        "status": job.status,
        "stage": job.stage,
        "progress": round(job.progress, 3),
        "final": job.is_final,
        "error": job.error,
        "charged": job.charged,
        "estimate": job.estimate,
        **view,
    }


def _view(service: Service, job: Job) -> dict[str, Any]:
    done = job.status == Status.COMPLETED
    return {
        "outputUrl": service.output_url(job) if done else None,
        "seconds": round(job.output_seconds or 0.0, 2) if done else None,
    }


def _error(exc: LipsyncError) -> JSONResponse:
    return JSONResponse({"error": exc.message, "code": exc.code}, status_code=exc.http_status)
