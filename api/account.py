"""Beyond the seeds, as the best peers offer: cancel, listing, balance, ledger, estimates, keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api import examples
from api.auth import authenticate
from api.errors import ApiError, error_responses
from api.speech import pop_speech
from api.studio import ROLE_FIELDS, ImageForm, JobId, MultiForm, VideoForm, studio_job
from api.views import iso, job_detail
from engine.job_request import JobRequest
from engine.service import ApiKeyInfo, Service
from engine.vocabulary import Model, Plan

router = APIRouter(prefix="/api/v1", tags=["account and jobs"], responses=error_responses(401, 429))
Key = Annotated[ApiKeyInfo, Depends(authenticate)]
BODY_ERRORS = (400, 413, 422)  # a JSON body: unreadable, too large, not valid


def _service(request: Request) -> Service:
    return request.app.state.service


@router.post(
    "/jobs/{job_id}/cancel",
    summary="Cancel a queued or running job (refunded)",
    responses=error_responses(
        404,
        409,
        said={
            409: (
                "The job has already finished (`conflict`).",
                "job 550e8400-e29b-41d4-a716-446655440000 is already completed",
            )
        },
    ),
)
async def cancel_job(job_id: JobId, request: Request, key: Key) -> dict:
    service = _service(request)
    job = await service.cancel(job_id, account_id=key.account_id)
    return studio_job(job, service)


@router.get("/jobs", summary="List your jobs, newest first", responses=error_responses(422))
async def list_jobs(
    request: Request,
    key: Key,
    status: Annotated[list[str] | None, Query(description="filter by status (repeatable)")] = None,
    model: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    before: Annotated[
        float | None, Query(ge=0, le=1e11, description="created before this unix time")
    ] = None,
) -> dict:
    service = _service(request)
    jobs = await service.list_jobs(
        key.account_id, statuses=status or [], model=model, limit=limit, before=before
    )
    return {"jobs": [job_detail(j, service) for j in jobs]}


@router.get(
    "/jobs/{job_id}/details",
    summary="Everything about a job, webhook attempts included",
    responses=error_responses(404),
)
async def job_details(job_id: JobId, request: Request, key: Key) -> dict:
    service = _service(request)
    job = await service.get_job(job_id, account_id=key.account_id)
    detail = job_detail(job, service)
    detail["webhookDeliveries"] = [
        {
            "id": d.id,
            "url": d.url,
            "status": d.status,
            "attempts": d.attempts,
            "lastStatusCode": d.last_status_code,
            "lastError": d.last_error,
            "nextAttemptAt": iso(d.next_attempt_at),
            "deliveredAt": iso(d.delivered_at),
        }
        for d in await service.deliveries(job.id)
    ]
    return detail


@router.get("/balance", summary="Your API credits")
async def balance(request: Request, key: Key) -> dict:
    account = await _service(request).get_account(key.account_id)
    return {"accountId": account.id, "balance": account.balance, "plan": account.plan}


@router.get("/ledger", summary="Your credit entries, newest first", responses=error_responses(422))
async def ledger_entries(
    request: Request,
    key: Key,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: Annotated[int | None, Query(alias="beforeId", ge=0, le=2**62)] = None,
) -> dict:
    entries = await _service(request).ledger_entries(
        key.account_id, limit=limit, before_id=before_id
    )
    return {
        "entries": [
            {
                "id": e.id,
                "kind": e.kind,
                "amount": e.amount,
                "credits": e.credits,
                "balanceAfter": e.balance_after,
                "jobId": e.job_id,
                "note": e.note,
                "createdAt": iso(e.created_at),
            }
            for e in entries
        ]
    }


class EstimateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Model
    formState: dict[str, Any] = Field(description="the same formState as the job's endpoint")


_FORMS = {Model.VIDEO: VideoForm, Model.IMAGE: ImageForm, Model.IMAGE_MULTI: MultiForm}


@router.post(
    "/estimate",
    summary="What a job would cost (inputs are measured, nothing charged)",
    responses=error_responses(*BODY_ERRORS),
)
async def estimate(
    body: Annotated[EstimateRequest, Body(openapi_examples=examples.ESTIMATE)],
    request: Request,
    key: Key,
) -> dict:
    """Too few credits is not an error here: the answer says `affordable: false`. An
    estimate counts against the key's submission budget (429), since measuring the inputs
    means fetching and decoding them."""
    form = _FORMS[body.model].model_validate(body.formState).model_dump(exclude_none=True)
    speech = pop_speech(form)
    inputs = {k: form.pop(k) for k in ROLE_FIELDS if k in form}
    service = _service(request)
    quote = await service.estimate(
        JobRequest(model=body.model, inputs=inputs, params=form, speech=speech),
        account_id=key.account_id,
    )
    account = await service.get_account(key.account_id)
    return {
        "model": quote.model,
        "resolution": quote.resolution,
        "outputSeconds": quote.output_seconds,
        "billableSeconds": quote.billable_seconds,
        "credits": quote.credits,
        "estimatedTime": quote.estimated_time,
        "balance": account.balance,
        "affordable": account.balance >= quote.credits,
    }


class NewKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("", max_length=100, description="a name to remember it by (optional)")
    credits: int = Field(0, ge=0, le=10**12)
    plan: Plan = Plan.FREE


def _admin(key: ApiKeyInfo) -> None:
    if not key.admin:
        raise ApiError(403, "forbidden", "only an admin API key can manage keys and credits")


def _key_view(k: ApiKeyInfo) -> dict:
    return {
        "id": k.id,
        "name": k.name,
        "plan": k.plan,
        "credits": k.balance,
        "accountId": k.account_id,
        "admin": k.admin,
        "createdAt": iso(k.created_at),
        "lastUsedAt": iso(k.last_used_at),
        "revokedAt": iso(k.revoked_at),
    }


@router.post(
    "/keys",
    status_code=201,
    summary="Create an API key (admin; shown once)",
    responses=error_responses(403, *BODY_ERRORS),
)
async def create_key(body: NewKeyRequest, request: Request, key: Key) -> dict:
    _admin(key)
    service = _service(request)
    new = await service.create_api_key(body.name, body.credits, body.plan)
    return {
        **_key_view(new.key),
        "key": new.secret,
        "webhookSecret": service.webhook_secret(new.key.id),
    }


@router.get("/keys", summary="List API keys (admin)", responses=error_responses(403))
async def list_keys(request: Request, key: Key) -> dict:
    _admin(key)
    return {"keys": [_key_view(k) for k in await _service(request).list_api_keys()]}


@router.post(
    "/keys/{key_id}/revoke",
    summary="Revoke an API key (admin)",
    responses=error_responses(
        403,
        404,
        409,
        said={
            404: ("No API key with this id (`not_found`).", "no API key 1a2b3c4d"),
            409: (
                "The key is already revoked (`conflict`).",
                "API key 1a2b3c4d is already revoked",
            ),
        },
    ),
)
async def revoke_key(key_id: str, request: Request, key: Key) -> dict:
    _admin(key)
    return _key_view(await _service(request).revoke_api_key(key_id))


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(description="account id, API key id, or owner such as telegram:123")
    credits: int = Field(gt=0, le=10**12)
    note: str = Field("granted by an admin", max_length=200)


@router.post(
    "/credits/grant",
    summary="Add credits to an account (admin)",
    responses=error_responses(
        403,
        404,
        *BODY_ERRORS,
        said={
            404: (
                "No account, API key or owner by that name (`not_found`).",
                "no account, API key or owner named telegram:123",
            )
        },
    ),
)
async def grant(body: GrantRequest, request: Request, key: Key) -> dict:
    _admin(key)
    service = _service(request)
    account = await service.resolve_account(body.account)
    await service.grant(account.id, body.credits, note=body.note)
    account = await service.get_account(account.id)
    return {"accountId": account.id, "owner": account.owner, "balance": account.balance}
