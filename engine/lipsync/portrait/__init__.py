"""Talking portraits: one photo and a mouth track in, video frames out (also two faces at
once, for duets). `jobs` registers the `lipsync-image` and `lipsync-image-multi` handlers.

Modules, each one idea: `inputs` (per-frame mouth, per-job style), `geometry` (boxes,
grids, fall-offs), `mouth_rig` (the jaw and lips as a displacement field), `mouth_paint`
(the inside of the mouth), `eyes` (blinks), `head` (head motion), `compositor` (rigs to
frames), `animator` and `duet` (the public animators).
"""

from engine.lipsync.portrait.animator import PortraitAnimator, mouth_frames, render_frames
from engine.lipsync.portrait.duet import DuetAnimator
from engine.lipsync.portrait.inputs import CLOSED, MouthFrame, PortraitStyle

__all__ = [
    "CLOSED",
    "DuetAnimator",
    "MouthFrame",
    "PortraitAnimator",
    "PortraitStyle",
    "mouth_frames",
    "render_frames",
]
