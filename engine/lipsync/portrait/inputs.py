"""What a portrait is animated from, per frame (`MouthFrame`) and per job (`PortraitStyle`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PortraitStyle:
    """Knobs a user may turn; 1.0 is the tuned default for each."""

    expressiveness: float = 1.0  # scales mouth motion and head motion
    head_motion: float = 1.0  # 0 = still head
    blink_rate: float = 1.0  # blinks per ~4 s on average; 0 = no blinks


@dataclass(frozen=True)
class MouthFrame:
    """What the mouth track says for one frame (values are clipped to their ranges)."""

    open: float  # 0 closed .. 1 wide open
    width: float  # -1 rounded .. 0 neutral .. +1 spread
    teeth: float  # 0..1 upper teeth visibility
    speaking: float  # 0..1 voice activity
    tongue: float = 0.0  # 0..1 tongue tip raised behind the upper teeth (l, th)


CLOSED = MouthFrame(open=0.0, width=0.0, teeth=0.0, speaking=0.0)


DEFAULT_STYLE = PortraitStyle()
