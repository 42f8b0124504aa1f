"""Files posted to the upload endpoint: streamed to disk under a limit, then typed by probing.

An upload is stored under a random name *without* the sender's suffix, probed, and only then
renamed to the suffix of what it really holds (`engine.media.types`): a WAV sent as `x.html`
is stored, and later served, as audio. The limit is counted on the bytes as they arrive, so
a lying `Content-Length` or a chunked body cannot fill the disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import LipsyncError, MediaError, TooLarge
from engine.media import probe
from engine.media.fetch import human_size
from engine.media.types import content_type, stored_suffix
from engine.storage import OUTPUTS, Storage


@dataclass(frozen=True)
class Upload:
    url: str  # usable as any job input
    size: int
    kind: str  # image, audio or video
    duration: float | None
    width: int | None
    height: int | None


@dataclass(frozen=True)
class ServedFile:
    """A stored file and how to hand it out: as probing typed it, never sniffed."""

    path: Path
    content_type: str
    inline: bool  # only a job's own MP4 plays in the browser; an upload is a download


async def store_upload(storage: Storage, chunks: AsyncIterator[bytes], limit: int) -> Upload:
    dest = storage.new_upload_path("")
    size = 0
    try:
        with dest.open("wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"uploads are limited to {human_size(limit)}")
                out.write(chunk)
        if size == 0:
            raise MediaError("the uploaded file is empty")
        info = await asyncio.to_thread(probe, dest)
    except LipsyncError:
        dest.unlink(missing_ok=True)
        raise
    dest = dest.rename(dest.with_suffix(stored_suffix(info)))
    return Upload(
        url=storage.public_url(dest),
        size=size,
        kind=info.kind,
        duration=info.duration,
        width=info.width,
        height=info.height,
    )


def served_file(storage: Storage, folder: str, name: str) -> ServedFile | None:
    """The stored file behind a public `/files/<folder>/<name>` path, or None."""
    path = storage.resolve_public(f"{folder}/{name}")
    if path is None:
        return None
    return ServedFile(
        path=path,
        content_type=content_type(path.suffix),
        inline=folder == OUTPUTS and path.suffix == ".mp4",
    )
