"""Checking and fetching slash-command attachments before the engine sees them.

Discord tells us each attachment's size, name and (usually) content type in the interaction
itself, so a wrong kind of file or one that is too large is refused at once, before any
byte is downloaded and before the command is deferred: the user gets an ephemeral reply
within Discord's 3-second window. What the file really holds is checked later by the
engine's probe (a `.png` that is really text still fails there, with the engine's message).

Downloads stream into a per-interaction folder under a byte cap, because the size Discord
announced is a claim, not a guarantee; the folder is passed to the engine as `local_dirs`.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

import discord
import httpx

from engine.vocabulary import Role

IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}
VIDEO_TYPES = {"video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/x-m4v"}
AUDIO_PREFIX = "audio/"
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
EXTRA_TYPES = {".webp": "image/webp", ".mkv": "video/x-matroska", ".opus": "audio/ogg"}

# kind -> how the accepted files are named to a user
KINDS: dict[str, str] = {
    "image": "a picture (JPEG, PNG or WebP)",
    "video": "a video (MP4, MOV, WebM or MKV)",
    "audio": "a sound file (MP3, WAV, OGG, M4A, OPUS) or a video with sound",
}


class AttachmentRefused(Exception):
    """An attachment we will not take; the message is shown to the user as it is."""


@dataclass(frozen=True)
class Wanted:
    """One attachment option of a command: its option name, engine role and media kind."""

    option: str
    role: Role
    kind: str  # "image" | "video" | "audio" (the engine's `input_kinds`)


@dataclass(frozen=True)
class VoiceOption:
    """A voice role as typed: a sound file (`wanted.option`) or a line to speak
    (`text_option`); exactly one of the two."""

    wanted: Wanted
    attachment: discord.Attachment | None
    text: str | None
    text_option: str

    def chosen(self) -> discord.Attachment | str:
        """The file or the text, refusing neither or both."""
        has_text = bool(self.text and self.text.strip())
        if self.attachment is not None and has_text:
            raise AttachmentRefused(
                f"Give either `{self.wanted.option}` (a sound file) or `{self.text_option}` "
                "(what to say), not both."
            )
        if self.attachment is None and not has_text:
            raise AttachmentRefused(
                f"Give `{self.wanted.option}` (a sound file) or `{self.text_option}` (what to say)."
            )
        return self.attachment if self.attachment is not None else (self.text or "").strip()


def media_type(attachment: discord.Attachment) -> str:
    """The attachment's content type, from Discord or else guessed from its file name."""
    announced = (attachment.content_type or "").split(";")[0].strip().lower()
    if announced not in GENERIC_TYPES:
        return announced
    suffix = Path(attachment.filename).suffix.lower()
    return EXTRA_TYPES.get(suffix) or mimetypes.guess_type(attachment.filename)[0] or ""


def check(attachment: discord.Attachment, wanted: Wanted, max_bytes: int) -> None:
    """Refuse a file of the wrong kind or over the size limit, before downloading it."""
    kind = media_type(attachment)
    if wanted.kind == "image":
        fits = kind in IMAGE_TYPES
    elif wanted.kind == "video":
        fits = kind in VIDEO_TYPES
    else:
        fits = kind.startswith(AUDIO_PREFIX) or kind in VIDEO_TYPES
    if not fits:
        seen = f" ({kind})" if kind else ""
        raise AttachmentRefused(
            f"`{wanted.option}` must be {KINDS[wanted.kind]}, but "
            f"`{_safe(attachment.filename)}`{seen} is not."
        )
    if attachment.size > max_bytes:
        raise AttachmentRefused(
            f"`{wanted.option}` is {_mb(attachment.size)}; files up to {_mb(max_bytes)} "
            "are accepted. Send a shorter or smaller file."
        )


async def download(
    attachment: discord.Attachment,
    wanted: Wanted,
    folder: Path,
    *,
    max_bytes: int,
    timeout: float,
) -> Path:
    """Stream one attachment into `folder` as `<role><suffix>`, never past `max_bytes`."""
    path = folder / f"{wanted.role}{_suffix(attachment.filename)}"
    received = 0
    try:
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client,
            client.stream("GET", attachment.url) as response,
        ):
            if response.status_code != 200:
                raise AttachmentRefused(
                    f"Could not download `{wanted.option}` from Discord "
                    f"(HTTP {response.status_code}); please send it again."
                )
            with path.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > max_bytes:
                        raise AttachmentRefused(
                            f"`{wanted.option}` is larger than {_mb(max_bytes)}; "
                            "send a shorter or smaller file."
                        )
                    out.write(chunk)
    except httpx.HTTPError:
        raise AttachmentRefused(
            f"Could not download `{wanted.option}` from Discord; please send it again."
        ) from None
    return path


def _suffix(filename: str) -> str:
    """A harmless extension for the local copy: letters and digits only, at most 5."""
    suffix = Path(filename).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""


def _safe(filename: str) -> str:
    """A file name that cannot break out of the inline code span it is shown in."""
    return filename.replace("`", "'")[:80]


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
