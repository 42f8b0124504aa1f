"""The words the engine and every door share, each defined once.

They are `StrEnum`s: a member is its string (`Status.QUEUED == "queued"`), so the database,
JSON bodies and seed documents keep their exact words, while code that names a status, a
stage or a model is checked by the type checker and found by a search. Doors translate these
into their own words (a Telegram text, an MCP progress line); none spells them anew.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a job is in its life (seed 000: the statuses a client polls for)."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELED})
ACTIVE_STATUSES = frozenset({Status.QUEUED, Status.PROCESSING})


class Stage(StrEnum):
    """What a render is doing now, in the order a job usually passes through them."""

    STARTING = "starting"  # claimed; the render process is loading its inputs
    SPEAKING = "speaking"  # a voice sent as text is being spoken
    DECODING = "decoding"
    FINDING_FACES = "finding faces"
    TRACKING_FACES = "tracking faces"
    ANALYSING_SPEECH = "analysing speech"
    CHOOSING_MOUTHS = "choosing mouths"
    RENDERING = "rendering"
    ENCODING = "encoding"  # the frames are out; the MP4 is being finished


class Resolution(StrEnum):
    """Output sizes by their short side; the price per second depends on it."""

    P480 = "480p"
    P720 = "720p"
    P1080 = "1080p"

    @property
    def short_side(self) -> int:
        return int(self.value.removesuffix("p"))


# What the chat doors offer: their users send phone media, and 1080p files pass the size
# a chat platform lets a bot upload.
CHAT_RESOLUTIONS = (Resolution.P480, Resolution.P720)


class Model(StrEnum):
    """What a job makes (the seeds' model names)."""

    VIDEO = "lipsync-video"  # dub a video with a new voice
    IMAGE = "lipsync-image"  # a talking portrait from a photo
    IMAGE_MULTI = "lipsync-image-multi"  # two people in one photo, one voice each


class Role(StrEnum):
    """The part an input file plays in a job."""

    VIDEO = "video"
    IMAGE = "image"
    AUDIO = "audio"
    LEFT_AUDIO = "left_audio"
    RIGHT_AUDIO = "right_audio"
    MASK_IMAGE = "mask_image"


class Order(StrEnum):
    """How a duet's two voices are placed in time."""

    MEANWHILE = "meanwhile"
    LEFT_RIGHT = "left_right"
    RIGHT_LEFT = "right_left"


class SyncMode(StrEnum):
    """What a dubbed video does when the voice outlasts it."""

    BOUNCE = "bounce"  # play it back and forth
    LOOP = "loop"
    FREEZE = "freeze"  # hold the last frame


class Plan(StrEnum):
    """An API account's plan: how many requests a minute it may make (seed 004)."""

    FREE = "free"
    STARTER = "starter"
    PRO = "pro"
