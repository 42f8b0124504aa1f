"""Turn a request's input references into checked local files, at submit time.

Inputs are fetched and probed before the job is queued, so that an unreachable URL, a
private address, a broken file or an audio over the limit is refused at once with a clear
message and no charge, and so that the price can be computed from the real durations.
"""

from __future__ import annotations

import asyncio
import dataclasses
import mimetypes
import shutil
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.config import Settings
from engine.errors import FetchError, InvalidInput, MediaError
from engine.media import MediaInfo, measure_audio_seconds, probe
from engine.media.fetch import decode_data_uri, fetch_to_file
from engine.storage import Storage

_SUFFIXES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/ogg": ".ogg",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
}

# An encoder pads its last frame (AAC: up to 1024 samples, MP3: 1152); the container's own
# length, which leaves that out, is kept when the decoded sound is longer by no more than this.
_FRAME_PADDING = 0.1


@dataclass(frozen=True)
class ResolvedInput:
    role: str
    path: Path
    info: MediaInfo


async def resolve_inputs(
    refs: Mapping[str, str],
    kinds: Mapping[str, str],
    dest: Path,
    storage: Storage,
    settings: Settings,
    *,
    local_dirs: Sequence[Path] = (),
) -> dict[str, ResolvedInput]:
    """Fetch or copy every input into `dest` and check it holds the kind of media needed."""
    dest.mkdir(parents=True, exist_ok=True)

    async def one(role: str, ref: str) -> ResolvedInput:
        path = await _materialize(role, ref, dest, storage, settings, local_dirs)
        info = await asyncio.to_thread(probe, path, max_bytes=settings.limits.max_input_bytes)
        _check_kind(role, kinds[role], info, settings)
        if kinds[role] == "audio":
            info = await asyncio.to_thread(_measured, role, path, info, settings)
        return ResolvedInput(role, path, info)

    results = await asyncio.gather(
        *(one(role, ref) for role, ref in refs.items() if ref), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return {r.role: r for r in results if isinstance(r, ResolvedInput)}


async def _materialize(
    role: str,
    ref: str,
    dest: Path,
    storage: Storage,
    settings: Settings,
    local_dirs: Sequence[Path],
) -> Path:
    if not isinstance(ref, str):
        raise InvalidInput(f"'{role}' must be a URL")
    ref = ref.strip()
    if ref.startswith("data:"):
        payload, media_type = decode_data_uri(ref, max_bytes=settings.limits.max_data_uri_bytes)
        path = dest / f"{role}{_suffix(media_type, '')}"
        path.write_bytes(payload)
        return path
    own = storage.local_file_for_url(ref)
    if own is not None:
        path = dest / f"{role}{own.suffix}"
        await asyncio.to_thread(shutil.copyfile, own, path)
        return path
    scheme = urllib.parse.urlsplit(ref).scheme.lower()
    if scheme in ("http", "https"):
        suffix = Path(urllib.parse.urlsplit(ref).path).suffix[:8]
        path = dest / f"{role}{suffix}"
        try:
            await fetch_to_file(
                ref,
                path,
                max_bytes=settings.limits.max_input_bytes,
                timeout=settings.limits.fetch_timeout_seconds,
                allow_private=settings.limits.allow_private_urls,
            )
        except FetchError as exc:
            raise FetchError(f"{role}: {exc.message}") from None
        return path
    if local_dirs and scheme in ("", "file"):
        return _local_copy(role, ref, dest, local_dirs)
    raise InvalidInput(f"'{role}' must be an http(s) URL, a data: URI or an uploaded file's URL")


def _local_copy(role: str, ref: str, dest: Path, local_dirs: Sequence[Path]) -> Path:
    """Doors that run on the user's own machine (CLI, MCP stdio) may name local files."""
    raw = urllib.parse.unquote(urllib.parse.urlsplit(ref).path) if ref.startswith("file:") else ref
    source = Path(raw).expanduser().resolve()
    if not any(source.is_relative_to(Path(d).expanduser().resolve()) for d in local_dirs):
        raise InvalidInput(f"{role}: {source} is outside the folders this server may read")
    if not source.is_file():
        raise InvalidInput(f"{role}: no such file {source}")
    path = dest / f"{role}{source.suffix}"
    shutil.copyfile(source, path)
    return path


def _suffix(media_type: str, fallback: str) -> str:
    return _SUFFIXES.get(media_type) or mimetypes.guess_extension(media_type) or fallback


def _check_kind(role: str, needed: str, info: MediaInfo, settings: Settings) -> None:
    if needed == "image" and info.kind != "image":
        raise MediaError(f"'{role}' must be an image, but the file is {_article(info.kind)}")
    if needed == "video" and info.kind != "video":
        raise MediaError(f"'{role}' must be a video, but the file is {_article(info.kind)}")
    if needed == "audio" and not info.has_audio:
        raise MediaError(f"'{role}' has no sound")
    if needed in ("audio", "video"):
        duration = info.duration or 0.0
        if duration <= 0.05:
            raise MediaError(f"'{role}' is empty")
        limit = settings.limits.max_media_seconds
        if duration > limit:
            raise MediaError(f"'{role}' lasts {duration:.0f} s; the limit is {limit:.0f} s")


def _measured(role: str, path: Path, info: MediaInfo, settings: Settings) -> MediaInfo:
    """The info with the duration the sound really has, which is what the job is priced on."""
    limit = settings.limits.max_media_seconds
    seconds = measure_audio_seconds(path, max_seconds=limit)
    if seconds <= 0.05:
        raise MediaError(f"'{role}' has no sound that can be decoded")
    if seconds > limit:
        raise MediaError(f"'{role}' lasts more than {limit:.0f} s; the limit is {limit:.0f} s")
    declared = info.duration or 0.0
    if declared < seconds <= declared + _FRAME_PADDING:
        seconds = declared  # the codec's last frame is padded; the render cuts it off again
    return dataclasses.replace(info, duration=seconds)


def _article(kind: str) -> str:
    return {"image": "an image", "audio": "an audio file", "video": "a video"}.get(kind, kind)
