"""Uploads (`POST /api/v1/files`) and serving of uploads and results under `/files/...`."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import FileResponse

from api.auth import authenticate
from api.errors import ApiError
from engine.errors import LipsyncError
from engine.media import probe
from engine.media.fetch import human_size
from engine.media.types import content_type, stored_suffix
from engine.service import ApiKeyInfo, Service
from engine.storage import OUTPUTS

router = APIRouter(tags=["files"])
CHUNK = 1024 * 1024


@router.post("/api/v1/files", status_code=201, summary="Upload a file; use its URL in any job")
async def upload(
    request: Request,
    key: Annotated[ApiKeyInfo, Depends(authenticate)],
    file: Annotated[UploadFile, File(description="image, audio or video")],
) -> dict:
    service: Service = request.app.state.service
    limit = service.settings.limits.max_upload_bytes
    # Stored without the sender's suffix until probing says what the file really is.
    dest = service.storage.new_upload_path("")
    size = 0
    try:
        with dest.open("wb") as out:
            while chunk := await file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ApiError(
                        413, "file_too_large", f"uploads are limited to {human_size(limit)}"
                    )
                out.write(chunk)
        if size == 0:
            raise ApiError(422, "invalid_media", "the uploaded file is empty")
        info = await asyncio.to_thread(probe, dest)
    except (ApiError, LipsyncError):
        dest.unlink(missing_ok=True)
        raise
    dest = dest.rename(dest.with_suffix(stored_suffix(info)))
    return {
        "url": service.storage.public_url(dest),
        "size": size,
        "kind": info.kind,
        "duration": info.duration,
        "width": info.width,
        "height": info.height,
    }


@router.get("/files/{folder}/{name}", summary="A result or an upload", include_in_schema=False)
async def serve_file(folder: str, name: str, request: Request) -> FileResponse:
    """A stored file, typed by what probing found in it and never sniffed by the browser.

    Only a job's own output (an MP4 this server encoded) may play inline; anything a user
    uploaded is a download, so no upload can act as a page of this origin.
    """
    service: Service = request.app.state.service
    path = service.storage.resolve_public(f"{folder}/{name}")
    if path is None:
        raise ApiError(404, "not_found", "no such file (it may have expired)")
    own_output = folder == OUTPUTS and path.suffix == ".mp4"
    return FileResponse(
        path,
        media_type=content_type(path.suffix),
        content_disposition_type="inline" if own_output else "attachment",
        filename=path.name,
        headers={"X-Content-Type-Options": "nosniff"},
    )
