"""Files users send: what kind each one is, whether we may fetch it, and fetching it.

Telegram delivers media in many shapes (a compressed photo, a photo sent as a file, a
voice note, a round video note, an animation, any document). They are sorted here into
the three kinds a lipsync job understands before anything is downloaded, so a file that is
too big or of an unusable type gets its answer at once and costs no bandwidth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from telegram import Bot, Message
from telegram.error import BadRequest

from bots.shared import too_big
from bots.telegram.drafts import MediaKind
from bots.telegram.limits import Limits

DOWNLOAD_TIMEOUT_SECONDS = 600.0

# Document types we can decode (see engine.media.probe.ALLOWED_DEMUXERS). GIF, HEIC and
# the like are refused up front rather than after a download.
IMAGE_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
VIDEO_TYPES = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
    "video/x-msvideo": ".avi",
}
AUDIO_TYPES = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/ogg": ".ogg",
    "audio/opus": ".ogg",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/m4a": ".m4a",
    "audio/aac": ".aac",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
}
SUFFIX_KINDS: dict[str, MediaKind] = {
    **{s: "image" for s in (".jpg", ".jpeg", ".png", ".webp")},
    **{s: "video" for s in (".mp4", ".mov", ".webm", ".mkv", ".avi")},
    **{s: "audio" for s in (".mp3", ".wav", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".flac")},
}


@dataclass(frozen=True)
class Attachment:
    """A file in a message; `kind` None means a file we cannot use."""

    kind: MediaKind | None
    file_id: str
    size: int | None
    suffix: str


class FileTooBig(Exception):
    """Telegram will not hand this file to the bot (over the Bot API's download limit)."""

    def __init__(self, size: int | None) -> None:
        super().__init__(f"file too big ({size} bytes)")
        self.size = size


def attachment_of(message: Message) -> Attachment | None:
    """The usable file of a message, sorted by kind; None when it carries no file at all."""
    if message.photo:
        best = message.photo[-1]  # Telegram lists sizes smallest first
        return Attachment("image", best.file_id, best.file_size, ".jpg")
    if message.video_note:
        note = message.video_note
        return Attachment("video", note.file_id, note.file_size, ".mp4")
    if message.video:
        video = message.video
        suffix = _suffix(video.file_name, video.mime_type) or ".mp4"
        return Attachment("video", video.file_id, video.file_size, suffix)
    if message.animation:  # a GIF, which Telegram turns into a silent MP4
        anim = message.animation
        return Attachment("video", anim.file_id, anim.file_size, ".mp4")
    if message.voice:
        voice = message.voice
        return Attachment("audio", voice.file_id, voice.file_size, ".ogg")
    if message.audio:
        audio = message.audio
        suffix = _suffix(audio.file_name, audio.mime_type) or ".mp3"
        return Attachment("audio", audio.file_id, audio.file_size, suffix)
    if message.document:
        doc = message.document
        suffix = _suffix(doc.file_name, doc.mime_type)
        return Attachment(SUFFIX_KINDS.get(suffix), doc.file_id, doc.file_size, suffix)
    if message.sticker:
        return Attachment(None, message.sticker.file_id, message.sticker.file_size, "")
    return None


def refuse_size(attachment: Attachment, limits: Limits) -> bool:
    """True when the file is known to be over what Telegram lets this bot download."""
    return too_big(attachment.size, limits.download_bytes)


async def download(bot: Bot, attachment: Attachment, dest: Path, limits: Limits) -> Path:
    """Fetch the file to `dest` + its suffix; raise `FileTooBig` if Telegram refuses its size."""
    try:
        file = await bot.get_file(attachment.file_id)
    except BadRequest as exc:
        if "too big" in exc.message.lower():
            raise FileTooBig(attachment.size) from None
        raise
    if too_big(file.file_size, limits.download_bytes):
        raise FileTooBig(file.file_size)
    path = dest.with_name(dest.name + attachment.suffix)
    await file.download_to_drive(path, read_timeout=DOWNLOAD_TIMEOUT_SECONDS)
    return path


def _suffix(file_name: str | None, mime_type: str | None) -> str:
    """A safe suffix from a known MIME type, else from the file name ("" when neither helps)."""
    mime = (mime_type or "").lower()
    known = IMAGE_TYPES.get(mime) or VIDEO_TYPES.get(mime) or AUDIO_TYPES.get(mime)
    if known:
        return known
    match = re.search(r"(\.[A-Za-z0-9]{1,5})$", file_name or "")
    suffix = match.group(1).lower() if match else ""
    return ".jpg" if suffix == ".jpeg" else suffix
