"""What a job request is, independent of the door it came through, and its validation.

Each door maps its own dialect (seed fields `formState.image`, `imageUrl`, a Telegram photo,
an MCP tool argument) onto `JobRequest`; validation and defaults live here once, so every
door refuses the same things with the same words.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine import tts
from engine.config import Settings
from engine.errors import InvalidInput
from engine.vocabulary import Model, Order, Resolution, Role, SyncMode

MAX_PROMPT_CHARS = 2000

# role -> what the file must hold. "audio" roles accept any file with sound (a video too).
INPUT_ROLES: dict[Model, dict[Role, str]] = {
    Model.VIDEO: {Role.VIDEO: "video", Role.AUDIO: "audio"},
    Model.IMAGE: {Role.IMAGE: "image", Role.AUDIO: "audio"},
    Model.IMAGE_MULTI: {Role.IMAGE: "image", Role.LEFT_AUDIO: "audio", Role.RIGHT_AUDIO: "audio"},
}
OPTIONAL_ROLES: dict[Role, str] = {Role.MASK_IMAGE: "image"}


@dataclass(frozen=True)
class SpokenText:
    """A voice to be synthesized here instead of sent as a file."""

    text: str
    voice: str | None = None  # a voice id from GET /api/v1/tts/voices
    language: str | None = None  # or a language tag: its best voice
    speed: float = 1.0


@dataclass(frozen=True)
class JobRequest:
    model: str
    inputs: Mapping[str, str]  # role -> URL, data: URI, upload URL or (trusted doors) a path
    params: Mapping[str, Any] = field(default_factory=dict)
    webhook: str | None = None
    idempotency_key: str | None = None
    source: str = ""
    speech: Mapping[str, SpokenText] = field(default_factory=dict)  # voice role -> text


def input_kinds(model: str) -> dict[Role, str]:
    """Every role a model accepts, required ones first, with the kind of media each needs."""
    return {**INPUT_ROLES[Model(model)], **OPTIONAL_ROLES}


def validate(request: JobRequest, settings: Settings) -> dict[str, Any]:
    """Check the request and return its parameters with every default filled in."""
    if request.model not in tuple(Model):
        raise InvalidInput(f"unknown model '{request.model}'; use one of {', '.join(Model)}")
    roles = input_kinds(request.model)
    for role in INPUT_ROLES[Model(request.model)]:
        if not request.inputs.get(role) and role not in request.speech:
            raise InvalidInput(f"'{role}' is required for {request.model}")
    for role in request.inputs:
        if role not in roles:
            raise InvalidInput(f"'{role}' is not an input of {request.model}")
    for role, spoken in request.speech.items():
        if roles.get(role) != "audio":  # type: ignore[call-overload]
            raise InvalidInput(f"{request.model} takes no text for '{role}'")
        if request.inputs.get(role):
            raise InvalidInput(f"send either a file or text for '{role}', not both")
        check_text(spoken, settings)
    return normalize_params(request.model, request.params, settings)


def check_text(spoken: SpokenText, settings: Settings) -> None:
    """A text to speak: not empty, not longer than `tts.max_chars`, a voice that exists."""
    if not isinstance(spoken.text, str) or not spoken.text.strip():
        raise InvalidInput("the text to speak is empty")
    try:
        spoken.text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON can carry and UTF-8 cannot
        raise InvalidInput("the text holds characters that are not valid Unicode") from None
    if len(spoken.text) > settings.tts.max_chars:
        raise InvalidInput(
            f"the text is {len(spoken.text)} characters; at most {settings.tts.max_chars}"
        )
    tts.choose(spoken.voice, spoken.language)
    if not tts.MIN_SPEED <= spoken.speed <= tts.MAX_SPEED:
        raise InvalidInput(f"speed must be between {tts.MIN_SPEED} and {tts.MAX_SPEED}")


def normalize_params(model: str, params: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    known = {"resolution", "fps", "seed", "prompt", "order", "sync_mode", "max_duration"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidInput(f"unknown parameter '{unknown[0]}'")
    resolution = params.get("resolution") or settings.render.default_resolution
    if resolution not in tuple(Resolution):
        raise InvalidInput(f"resolution must be one of {', '.join(Resolution)}")
    # A dubbed video keeps its source's frame rate unless one is asked for.
    asked = params.get("fps")
    default = None if model == Model.VIDEO else settings.render.default_fps
    fps = default if asked is None else _int(asked, "fps")
    if fps is not None and not 24 <= fps <= 60:
        raise InvalidInput("fps must be between 24 and 60")
    seed = params.get("seed")
    seed = secrets.randbelow(2**31) if seed is None else _int(seed, "seed")
    if not 0 <= seed < 2**63:
        raise InvalidInput("seed must be a non-negative integer")
    prompt = params.get("prompt") or ""
    if not isinstance(prompt, str) or len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidInput(f"prompt must be text of at most {MAX_PROMPT_CHARS} characters")
    out: dict[str, Any] = {"resolution": resolution, "fps": fps, "seed": seed, "prompt": prompt}
    if model == Model.IMAGE_MULTI:
        order = params.get("order") or Order.MEANWHILE
        if order not in tuple(Order):
            raise InvalidInput(f"order must be one of {', '.join(Order)}")
        out["order"] = Order(order).value
    elif "order" in params:
        raise InvalidInput("'order' only applies to lipsync-image-multi")
    if model == Model.VIDEO:
        sync_mode = params.get("sync_mode") or SyncMode.BOUNCE
        if sync_mode not in tuple(SyncMode):
            raise InvalidInput(f"sync_mode must be one of {', '.join(SyncMode)}")
        out["sync_mode"] = SyncMode(sync_mode).value
    elif "sync_mode" in params:
        raise InvalidInput("'sync_mode' only applies to lipsync-video")
    max_duration = params.get("max_duration")
    if max_duration is not None:
        if isinstance(max_duration, bool) or not isinstance(max_duration, int | float):
            raise InvalidInput("max_duration must be a number of seconds")
        if max_duration <= 0:
            raise InvalidInput("max_duration must be positive")
        out["max_duration"] = float(max_duration)
    return out


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise InvalidInput(f"{name} must be an integer")
