"""Uploads (`POST /api/v1/files`) and serving of uploads and results under `/files/...`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import FileResponse

from api.auth import authenticate
from engine.service import ApiKeyInfo, Service

router = APIRouter(tags=["files"])
CHUNK = 1024 * 1024


@router.post("/api/v1/files", status_code=201, summary="Upload a file; use its URL in any job")
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


@router.get("/files/{folder}/{name}", summary="A result or an upload", include_in_schema=False)
async def serve_file(folder: str, name: str, request: Request) -> FileResponse:
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
