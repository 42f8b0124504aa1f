"""Uploads (`POST /api/v1/files`) and serving of uploads and results under `/files/...`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Request, UploadFile
from fastapi.responses import FileResponse

from api.auth import authenticate
from api.errors import error_responses
from engine.service import ApiKeyInfo, Service

router = APIRouter(tags=["files"])
CHUNK = 1024 * 1024


@router.post(
    "/api/v1/files",
    status_code=201,
    summary="Upload a file; use its URL in any job",
    responses=error_responses(
        400,
        401,
        413,
        422,
        429,
        said={
            413: (
                "The file is over `limits.max_upload_bytes` (`file_too_large`); the "
                "connection is closed.",
                "uploads are limited to 200 MiB",
            ),
            422: (
                "No `file` part (`invalid_request`), or a file that is not an image, audio "
                "or video we can decode (`invalid_media`).",
                "file: Field required",
            ),
        },
    ),
)
async def upload(
    request: Request,
    key: Annotated[ApiKeyInfo, Depends(authenticate)],
    file: Annotated[UploadFile, File(description="image, audio or video")],
) -> dict:
    service: Service = request.app.state.service

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await file.read(CHUNK):
            yield chunk

    stored = await service.store_upload(chunks())
    return {
        "url": stored.url,
        "size": stored.size,
        "kind": stored.kind,
        "duration": stored.duration,
        "width": stored.width,
        "height": stored.height,
    }


_BINARY = {"schema": {"type": "string", "format": "binary"}}
SERVED_TYPES = ("video/mp4", "video/*", "image/*", "audio/*", "application/octet-stream")


@router.get(
    "/files/{folder}/{name}",
    summary="A result or an upload",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file, typed by what probing found in it: a job's MP4 plays "
            "inline, an upload is an attachment (`Content-Disposition`).",
            "content": {media_type: _BINARY for media_type in SERVED_TYPES},
        },
        **error_responses(
            404,
            said={404: ("No such file (`not_found`).", "no such file (it may have expired)")},
        ),
    },
)
async def serve_file(
    folder: Annotated[str, Path(description="`outputs` (job results) or `uploads`")],
    name: Annotated[str, Path(description="the file name in the URL a job or upload gave")],
    request: Request,
) -> FileResponse:
    """A stored file, typed by what probing found in it and never sniffed by the browser.

    Only a job's own output (an MP4 this server encoded) may play inline; anything a user
    uploaded is a download, so no upload can act as a page of this origin.
    """
    service: Service = request.app.state.service
    served = service.served_file(folder, name)
    return FileResponse(
        served.path,
        media_type=served.content_type,
        content_disposition_type="inline" if served.inline else "attachment",
        filename=served.path.name,
        headers={"X-Content-Type-Options": "nosniff"},
    )
