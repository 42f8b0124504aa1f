"""Errors the engine raises on purpose, each with a stable code and a human message.

Every door turns a `LipsyncError` into its own form (an HTTP 4xx, a bot reply, an MCP tool
error) without knowing the details, so the message must be written for the end user: it
says what was wrong and, where it helps, what to do. Anything that is *not* a
`LipsyncError` is a bug or an outage; doors log it and show a generic message instead.
"""

from __future__ import annotations


class LipsyncError(Exception):
    """Base class: `code` is machine-readable and stable, `message` is for people."""

    code: str = "error"
    http_status: int = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInput(LipsyncError):
    """The caller sent something we cannot use: a wrong field, a broken file, no face."""

    code = "invalid_input"
    http_status = 422


class MediaError(InvalidInput):
    """A media file that does not decode, has no stream of the needed kind, or is too big."""

    code = "invalid_media"


class NoFaceError(InvalidInput):
    """No usable face where the job needs one (or the wrong number of faces)."""

    code = "no_face"


class FetchError(InvalidInput):
    """A URL we refuse (private address, wrong scheme) or cannot fetch (timeout, 404, size)."""

    code = "fetch_failed"


class TooLarge(LipsyncError):
    """A file or body over its configured limit."""

    code = "file_too_large"
    http_status = 413


class Unauthorized(LipsyncError):
    """No API key, or one that opens nothing."""

    code = "unauthorized"
    http_status = 401


class Forbidden(LipsyncError):
    """Known, but not allowed to do this (an admin's page, a closed sign-up)."""

    code = "forbidden"
    http_status = 403


class InsufficientCredits(LipsyncError):
    code = "insufficient_credits"
    http_status = 402


class NotFound(LipsyncError):
    code = "not_found"
    http_status = 404


class Conflict(LipsyncError):
    """The request contradicts the current state (cancel a finished job, reuse a key)."""

    code = "conflict"
    http_status = 409


class ConfigError(Exception):
    """Bad configuration: raised at start, names the offending key."""
