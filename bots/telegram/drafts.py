"""A request being put together over several messages, and where each new file goes.

A chat user builds a job one message at a time (a photo, then a voice, then a tap on a
button), so the bot keeps a `Draft` per user in `context.user_data` saying what it has and
what it waits for. `place` is the whole conversation logic for files in one pure function:
given the draft (or none) and the kind of file that arrived, start a new request, fill the
awaited slot, or answer with a hint. Being pure, it reads like the conversation it encodes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from engine import tts
from engine.job_request import JobRequest, SpokenText, input_kinds
from engine.vocabulary import Model, Order, Resolution, Role

Kind = Literal["portrait", "dub", "duet"]
MediaKind = Literal["image", "video", "audio"]

MODELS: dict[Kind, Model] = {
    "portrait": Model.IMAGE,
    "dub": Model.VIDEO,
    "duet": Model.IMAGE_MULTI,
}
KIND_OF_MODEL: dict[Model, Kind] = {model: kind for kind, model in MODELS.items()}

# Steps that wait for a file, and the job input each one fills.
FILE_STEPS: dict[str, Role] = {
    "photo": Role.IMAGE,
    "voice": Role.AUDIO,
    "left": Role.LEFT_AUDIO,
    "right": Role.RIGHT_AUDIO,
}
# What each step asks next, once its file is in.
NEXT_STEP: dict[tuple[str, str], str] = {
    ("portrait", "voice"): "resolution",
    ("dub", "voice"): "resolution",
    ("duet", "photo"): "left",
    ("duet", "left"): "right",
    ("duet", "right"): "order",
}


@dataclass
class Draft:
    """What one user has sent so far for one job, and what the bot waits for next."""

    kind: Kind
    folder: Path
    step: str
    id: str = field(default_factory=lambda: secrets.token_hex(4))
    files: dict[Role, Path] = field(default_factory=dict)
    texts: dict[Role, str] = field(default_factory=dict)  # voices typed, to be synthesized
    voice: str | None = None  # the engine voice id the typed lines are spoken with
    order: Order = Order.MEANWHILE
    resolution: Resolution = Resolution.P480
    panel_id: int | None = None  # the bot message whose buttons steer this draft
    price: int | None = None  # credits quoted when the resolution was chosen

    @classmethod
    def start(cls, kind: Kind, folder: Path) -> Draft:
        """A new request: a portrait or a dub starts with its picture, a duet asks for one."""
        return cls(kind=kind, folder=folder, step="photo" if kind == "duet" else "voice")

    @property
    def model(self) -> Model:
        return MODELS[self.kind]

    @property
    def awaited_role(self) -> Role | None:
        return FILE_STEPS.get(self.step)

    def fill(self, role: Role, path: Path) -> None:
        """Store a file; when it is the awaited one, move on to the next step."""
        self.texts.pop(role, None)
        self.files[role] = path
        if role == self.awaited_role:
            self.step = NEXT_STEP[(self.kind, self.step)]

    def fill_text(self, role: Role, text: str, voice: str) -> None:
        """A typed line instead of a voice file: spoken by the engine when submitted."""
        self.files.pop(role, None)
        self.texts[role] = text
        self.voice = self.voice or voice
        if role == self.awaited_role:
            self.step = NEXT_STEP[(self.kind, self.step)]

    def request(self, source: str) -> JobRequest:
        params: dict[str, str] = {"resolution": self.resolution}
        if self.kind == "duet":
            params["order"] = self.order
        return JobRequest(
            model=self.model,
            inputs={role: str(path) for role, path in self.files.items()},
            params=params,
            source=source,
            speech={role: SpokenText(text, voice=self.voice) for role, text in self.texts.items()},
        )


@dataclass(frozen=True)
class Placement:
    """Where an incoming file goes: `start` a new draft, `role` in the draft, or a `hint`."""

    start: Kind | None = None
    role: Role | None = None
    hint: str | None = None


def place(draft: Draft | None, kind: MediaKind) -> Placement:
    """Decide what a photo, video or voice means at this point of the conversation."""
    awaited = draft.awaited_role if draft else None
    if draft is not None and awaited is not None:
        if input_kinds(draft.model)[awaited] == "image":  # a duet waiting for its photo
            return Placement(role=awaited) if kind == "image" else Placement(hint="duet.need_photo")
        if kind in ("audio", "video"):  # waiting for a voice: a video with sound can be one
            return Placement(role=awaited)
        if draft.kind == "duet":
            return Placement(hint=f"duet.ask_{draft.step}")
        return Placement(start="portrait")  # a new photo instead of a voice: start over
    if kind == "image":
        return Placement(start="portrait")
    if kind == "video":
        return Placement(start="dub")
    return Placement(hint="use_buttons" if draft is not None else "need_media_first")


def voice_choices(lang: str) -> list[tts.Voice]:
    """The voices the price panel offers for typed lines: the best one for the user's
    language, then English (two English accents for English speakers)."""
    wanted = [lang, "en"] if lang != "en" else ["en-us", "en-gb"]
    found: list[tts.Voice] = []
    for language in wanted:
        voice = tts.choose(language=language)
        if voice not in found:
            found.append(voice)
    return found


def first_role(kind: Kind) -> Role:
    """The input a new portrait or dub draft is started with."""
    return Role.VIDEO if kind == "dub" else Role.IMAGE
