"""Head motion: a small rigid sway, nod and roll about the neck, seeded and smooth."""

from __future__ import annotations

import numpy as np

from engine.lipsync import faces as fm
from engine.lipsync.faces import Face
from engine.lipsync.portrait.geometry import Box, smoothstep

# Head motion amplitudes at style 1.0: roll (degrees), sway and nod (face heights).
HEAD_ROLL_DEG, HEAD_SWAY, HEAD_NOD = 1.0, 0.010, 0.007

# Extra, faster motion while speaking (same units).
TALK_ROLL_DEG, TALK_SWAY, TALK_NOD = 0.5, 0.004, 0.009

# The head moves rigidly inside this ellipse (in face sizes) and fades out by `HEAD_FADE`
# times it, so the motion never reaches the frame border on a typical portrait.
HEAD_FADE = 1.6


class _Noise:
    """Smooth, seeded pseudo-random signal: a few incommensurate sinusoids (unit RMS)."""

    def __init__(self, rng: np.random.Generator, low_hz: float, high_hz: float, n: int = 4) -> None:
        self.freq = rng.uniform(low_hz, high_hz, n) * 2 * np.pi
        self.phase = rng.uniform(0, 2 * np.pi, n)
        amp = rng.uniform(0.5, 1.0, n)
        self.amp = amp / np.sqrt(np.sum(amp**2) / 2)

    def __call__(self, time: float) -> float:
        return float(np.sum(self.amp * np.sin(self.freq * time + self.phase)))


class HeadRig:
    """Rigid head motion about the neck, faded out by a soft ellipse around the head."""

    def __init__(self, face: Face, rng: np.random.Generator) -> None:
        lm = face.landmarks.astype(np.float64)
        self.face_height = face.face_height()
        width = float(np.ptp(lm[:468, 0]))
        top, chin = lm[fm.FOREHEAD_TOP], lm[fm.CHIN_BOTTOM]
        centre = (top + chin) / 2.0
        self.centre = centre + (top - chin) * 0.12  # include the cranium and hair
        self.radii = np.array([0.72 * width, 0.82 * self.face_height])
        self.pivot = chin + (chin - top) * 0.25
        self.slow = [_Noise(rng, 0.06, 0.3) for _ in range(3)]
        self.fast = [_Noise(rng, 0.7, 1.8) for _ in range(3)]

    def reach(self) -> Box:
        r = self.radii * HEAD_FADE
        return Box.around(np.stack([self.centre - r, self.centre + r]))

    def weight(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        r = np.hypot((xs - self.centre[0]) / self.radii[0], (ys - self.centre[1]) / self.radii[1])
        return (1.0 - smoothstep((r - 1.0) / (HEAD_FADE - 1.0))).astype(np.float32)

    def pose(self, time: float, speaking: float, amount: float) -> tuple[float, float, float]:
        """(roll radians, dx px, dy px) at `time`."""
        if amount == 0:
            return 0.0, 0.0, 0.0
        roll = HEAD_ROLL_DEG * self.slow[0](time) + speaking * TALK_ROLL_DEG * self.fast[0](time)
        sway = HEAD_SWAY * self.slow[1](time) + speaking * TALK_SWAY * self.fast[1](time)
        nod = HEAD_NOD * self.slow[2](time) + speaking * TALK_NOD * self.fast[2](time)
        return (
            np.deg2rad(roll) * amount,
            sway * self.face_height * amount,
            nod * self.face_height * amount,
        )

    def forward(self, pose: tuple[float, float, float]) -> np.ndarray:
        """2x3 affine: still-head pixels -> output pixels (rotation about the neck)."""
        angle, dx, dy = pose
        c, s = np.cos(angle), np.sin(angle)
        rot = np.array([[c, -s], [s, c]])
        offset = self.pivot - rot @ self.pivot + [dx, dy]
        return np.hstack([rot, offset[:, None]])
