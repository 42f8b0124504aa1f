"""One JSON error shape for every route of both dialects.

    {"success": false, "error": {"code": "insufficient_credits", "message": "..."}}

`success: false` is what seed 004's clients test; `error.code` is stable for programs and
`error.message` is written for people. No route ever answers with a stack trace.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
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
