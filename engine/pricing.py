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
from engine.vocabulary import Model, Order, Resolution, Role

# A millisecond of slack so that 3.0000004 s of decoded audio bills as 3 s, not 4.
_ROUNDING_SLACK = 1e-3


@dataclass(frozen=True)
class Quote:
    output_seconds: float
    billable_seconds: int
    credits: int


@dataclass(frozen=True)
class PriceList:
    """What the service charges, for doors to show: credits per second of output by
    resolution, and the shortest length a video is billed for."""

    credits_per_second: Mapping[str, int]
    min_seconds: int

    def seconds_for(self, credits: int, resolution: str = Resolution.P480) -> int:
        """How many seconds of video `credits` buy at `resolution` (a pack's worth)."""
        return credits // max(1, self.credits_per_second[resolution])


def price_list(pricing: PricingSettings) -> PriceList:
    return PriceList(
        credits_per_second={r: pricing.credits_per_second[r] for r in Resolution},
        min_seconds=pricing.min_seconds,
    )


def output_seconds(
    model: str,
    durations: Mapping[str, float],
    *,
    order: str = Order.MEANWHILE,
    max_duration: float | None = None,
) -> float:
    """How long the result video will be, given the durations of the job's audio inputs."""
    if model in (Model.VIDEO, Model.IMAGE):
        seconds = durations[Role.AUDIO]
    elif model == Model.IMAGE_MULTI:
        left, right = durations[Role.LEFT_AUDIO], durations[Role.RIGHT_AUDIO]
        seconds = max(left, right) if order == Order.MEANWHILE else left + right
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
