"""Prices, as pure functions of a job's spec and its media durations (rules from the seeds).

billable seconds = max(min_seconds, ceil(output seconds)); credits = billable x rate(resolution).
The output of every model follows its audio: `lipsync-video` trims a longer video and extends
a shorter one, so its duration is the audio's; `lipsync-image-multi` lasts the longer audio
when both speak at once (`meanwhile`) and the sum when they take turns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from engine.config import PricingSettings

MODELS = ("lipsync-video", "lipsync-image", "lipsync-image-multi")
ORDERS = ("meanwhile", "left_right", "right_left")

# A millisecond of slack so that 3.0000004 s of decoded audio bills as 3 s, not 4.
_ROUNDING_SLACK = 1e-3


@dataclass(frozen=True)
class Quote:
    output_seconds: float
    billable_seconds: int
    credits: int


def output_seconds(
    model: str,
    durations: Mapping[str, float],
    *,
    order: str = "meanwhile",
    max_duration: float | None = None,
) -> float:
    """How long the result video will be, given the durations of the job's audio inputs."""
    if model in ("lipsync-video", "lipsync-image"):
        seconds = durations["audio"]
    elif model == "lipsync-image-multi":
        left, right = durations["left_audio"], durations["right_audio"]
        seconds = max(left, right) if order == "meanwhile" else left + right
    else:
        raise ValueError(f"unknown model {model!r}")
    if max_duration is not None:
        seconds = min(seconds, max_duration)
    return max(0.0, seconds)


def billable_seconds(seconds: float, min_seconds: int) -> int:
    return max(min_seconds, math.ceil(max(0.0, seconds - _ROUNDING_SLACK)))


def quote(seconds: float, resolution: str, pricing: PricingSettings) -> Quote:
    billable = billable_seconds(seconds, pricing.min_seconds)
    rate = pricing.credits_per_second[resolution]
    return Quote(output_seconds=seconds, billable_seconds=billable, credits=billable * rate)


def quote_job(
    model: str,
    resolution: str,
    durations: Mapping[str, float],
    pricing: PricingSettings,
    *,
    order: str = "meanwhile",
    max_duration: float | None = None,
) -> Quote:
    seconds = output_seconds(model, durations, order=order, max_duration=max_duration)
    return quote(seconds, resolution, pricing)
