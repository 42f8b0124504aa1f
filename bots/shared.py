"""Small helpers any chat door can share (Telegram today, Discord later).

They hold no chat-library types on purpose: a door turns its own message objects into
plain values, and these answer the questions every chat door asks the same way: which
language to reply in, whether a file is too big to fetch, what a downloaded file holds,
and where a user's files wait until the job is submitted.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path

from engine.media import MediaInfo, probe

MB = 1024 * 1024


def pick_language(code: str | None, supported: Iterable[str], default: str = "en") -> str:
    """The supported language for a client's IETF tag ("es", "pt-BR", "ko-KR"), else default."""
    if not code:
        return default
    base = code.replace("_", "-").split("-", 1)[0].lower()
    return base if base in set(supported) else default


def megabytes(size: int) -> str:
    """A file size for people, in megabytes of 1024 x 1024 bytes: "25", "24.6", "0.3".

    A file that holds anything never reads "0": below 0.1 MB it reads "0.1". An unknown
    size is no size at all; the texts that need one have a wording without it.
    """
    value = size / MB
    if 0 < value < 0.1:
        value = 0.1
    text = f"{value:.0f}" if value >= 100 else f"{value:.1f}"
    return text.removesuffix(".0")


def too_big(size: int | None, limit: int) -> bool:
    """Whether a file the chat platform says is `size` bytes exceeds what we may fetch.

    An unknown size is not refused here: the platform (or our own download) stops it later.
    """
    return size is not None and size > limit


async def inspect_media(path: Path, *, max_bytes: int | None = None) -> MediaInfo:
    """What a downloaded file holds, probed off the event loop (raises `MediaError`)."""
    return await asyncio.to_thread(probe, path, max_bytes=max_bytes)


class Inbox:
    """Per-user folders where a chat user's files wait until their job is submitted.

    The service copies inputs into the job's own storage at submit, so a folder is deleted
    as soon as the request is submitted or abandoned; `clear` removes leftovers of a
    previous run, whose conversations were lost when the process stopped.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def new_folder(self, user_id: int | str) -> Path:
        folder = self.root / str(user_id) / secrets.token_hex(8)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def discard(self, folder: Path | None) -> None:
        if folder is not None and folder.is_relative_to(self.root):
            shutil.rmtree(folder, ignore_errors=True)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
