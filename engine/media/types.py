"""The content type of a stored file, decided from what probing found in it, never from
the name or type its sender gave.

A WAV uploaded as `x.html` must not come back as `text/html`: served from our origin, an
HTML or SVG file runs as a page of the service. So a stored file's name ends in a suffix
chosen here from the demuxer FFmpeg used, and the server maps only these suffixes to
content types; anything else is served as `application/octet-stream`.
"""

from __future__ import annotations

from engine.media.probe import MediaInfo

OCTET_STREAM = "application/octet-stream"

# suffix -> content type, for every suffix this service gives a stored file.
CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".tiff": "image/tiff",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".aac": "audio/aac",
    ".m4a": "audio/mp4",
    ".mka": "audio/x-matroska",
    ".mp4": "video/mp4",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".bin": OCTET_STREAM,
}

# FFmpeg demuxer name -> suffix for (audio only, with pictures).
_BY_FORMAT = {
    "png_pipe": (".png", ".png"),
    "jpeg_pipe": (".jpg", ".jpg"),
    "webp_pipe": (".webp", ".webp"),
    "gif": (".gif", ".gif"),
    "bmp_pipe": (".bmp", ".bmp"),
    "tiff_pipe": (".tiff", ".tiff"),
    "wav": (".wav", ".bin"),
    "mp3": (".mp3", ".mp3"),  # an MP3 with cover art is still an MP3
    "ogg": (".ogg", ".ogg"),
    "flac": (".flac", ".flac"),
    "aac": (".aac", ".bin"),
    "mov,mp4,m4a,3gp,3g2,mj2": (".m4a", ".mp4"),
    "matroska,webm": (".mka", ".mkv"),
    "avi": (".bin", ".avi"),
}


def stored_suffix(info: MediaInfo) -> str:
    """The suffix to store a probed file under (`.bin` for formats we do not name)."""
    audio_only, pictured = _BY_FORMAT.get(info.format_name, (".bin", ".bin"))
    return audio_only if info.kind == "audio" else pictured


def content_type(suffix: str) -> str:
    return CONTENT_TYPES.get(suffix.lower(), OCTET_STREAM)
