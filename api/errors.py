"""One JSON error shape for every route of both dialects.

    {"success": false, "error": {"code": "insufficient_credits", "message": "..."}}

`success: false` is what seed 004's clients test; `error.code` is stable for programs and
`error.message` is written for people. No route ever answers with a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import LipsyncError
from engine.ratelimit import RateLimited

log = logging.getLogger("lipsync.api")


class ApiError(Exception):
    """An error raised by the API layer itself (auth, rate limit, bad body)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_body(code: str, message: str) -> dict:
    return {"success": False, "error": {"code": code, "message": message}}


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, for programs: `insufficient_credits`, `not_found`...")
    message: str = Field(description="what was wrong and what to do, for people")


class ErrorResponse(BaseModel):
    """The one error shape of every route, in both dialects."""

    success: Literal[False]
    error: ErrorDetail


# What each status means here, and the codes it carries.
ERROR_STATUSES: dict[int, tuple[str, str, str]] = {
    400: (
        "The body could not be read (a bad `Content-Length`, broken multipart framing).",
        "invalid_request",
        "bad Content-Length",
    ),
    401: (
        "No API key, or one that is not valid or was revoked. Send `Authorization: Bearer "
        "sk_...` or `X-API-Key: sk_...`.",
        "unauthorized",
        "an API key is required: send 'Authorization: Bearer sk_...' or 'X-API-Key: sk_...'",
    ),
    402: (
        "Too few credits for this job: its price is held at submit (`insufficient_credits`).",
        "insufficient_credits",
        "this job costs 20 credits but the balance is 5",
    ),
    403: (
        "The key is valid but may not do this: only an admin key manages keys and credits.",
        "forbidden",
        "only an admin API key can manage keys and credits",
    ),
    404: (
        "Nothing with this id belongs to the key's account (`not_found`).",
        "not_found",
        "no job with id 550e8400-e29b-41d4-a716-446655440000",
    ),
    409: (
        "The request contradicts the current state: cancelling a finished job, revoking a "
        "revoked key (`conflict`).",
        "conflict",
        "job 550e8400-e29b-41d4-a716-446655440000 is already completed",
    ),
    413: (
        "The body is over its limit (`request_too_large` for JSON, `file_too_large` for an "
        "upload); the connection is closed.",
        "request_too_large",
        "request bodies are limited to 12 MiB",
    ),
    422: (
        "A field is missing or wrong (`invalid_request`), or an input cannot be used "
        "(`invalid_input`, `invalid_media`, `no_face`, `fetch_failed`); an `Idempotency-Key` "
        "reused with another body is `idempotency_conflict`.",
        "invalid_request",
        "formState.audio: Field required",
    ),
    429: (
        "Over the key's request budget for this minute (`rate_limited`): retry after "
        "`Retry-After` seconds.",
        "rate_limited",
        "too many requests: the free plan allows 10 a minute; retry in 12 s",
    ),
}
_INT_HEADER = {"schema": {"type": "integer"}}
_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    413: {"Connection": {"description": "`close`", "schema": {"type": "string"}}},
    429: {
        "Retry-After": {
            "description": "seconds until the budget refills",
            "required": True,
            **_INT_HEADER,
        },
        "X-RateLimit-Limit": {"description": "requests a minute for this key", **_INT_HEADER},
        "X-RateLimit-Remaining": {"description": "`0`", **_INT_HEADER},
        "X-RateLimit-Reset": {"description": "seconds until the window restarts", **_INT_HEADER},
    },
}


def error_responses(
    *statuses: int, said: dict[int, tuple[str, str]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with the one error schema.

    `said`: a route's own words for a status: its description and an example message.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, code, message = ERROR_STATUSES[status]
        description, message = (said or {}).get(status, (description, message))
        response: dict[str, Any] = {
            "model": ErrorResponse,
            "description": description,
            "content": {"application/json": {"example": error_body(code, message)}},
        }
        if status in _ERROR_HEADERS:
            response["headers"] = _ERROR_HEADERS[status]
        responses[status] = response
    return responses


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), exc.status, headers=exc.headers)

    @app.exception_handler(LipsyncError)
    async def _engine_error(_: Request, exc: LipsyncError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return JSONResponse(error_body(exc.code, exc.message), exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid_request", describe_validation(exc)), 422)

    @app.exception_handler(ValidationError)
    async def _model_validation(_: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid_request", describe_validation(exc)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(error_body("internal_error", "something went wrong on our side"), 500)


def describe_validation(exc: RequestValidationError | ValidationError) -> str:
    """The first problem in words: which field, what is wrong."""
    errors = exc.errors()
    if not errors:
        return "the request is not valid"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body",))
    message = first.get("msg", "is not valid")
    if first.get("type") == "json_invalid":
        return "the body is not valid JSON"
    if first.get("type") == "extra_forbidden":
        return f"unknown field '{where}'"
    return f"{where}: {message}" if where else message
