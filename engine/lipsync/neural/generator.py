"""What a neural lipsync model is to the renderer: square face crops in, the same crops with
the mouth redrawn for the speech out.

Wav2Lip and MuseTalk differ in everything inside (mel windows vs whisper features, pixels vs
VAE latents), but both take a face cropped the way they were trained, with its lower half
hidden, plus an unmasked reference of the same face, plus the speech around one video frame,
and give back the face. The dubbing and portrait pipelines own everything around that:
tracking, which box to cut (asked of the model, since each was trained on its own boxes),
batching, blending back with the classic masks and occlusion rules.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class FaceGenerator(Protocol):
    """One loaded model, warm for the life of a render process."""

    name: str  # "wav2lip" | "musetalk"
    crop_size: int  # side of the square crops the model takes and returns (96, 256)
    batch_size: int  # frames per forward pass that suits the device
    # Optional: True where `face_box` needs only the tracker's `KEY_POINTS`; without it the
    # video pipeline re-meshes every dubbed face for all 478 points (a few ms a frame).
    # key_points_suffice: bool

    def face_box(
        self, points: np.ndarray, frame_shape: tuple[int, int]
    ) -> tuple[int, int, int, int]:
        """The box (x0, y0, x1, y1, pixels, x1/y1 exclusive, inside the frame) to cut for one
        face, from its 478 MediaPipe face-mesh points in pixels, as the model was trained.

        In video the tracker keeps only some points (`KEY_POINTS` of
        `engine.lipsync.dubbing.tracking`: eye corners, nose line and wings, lips, jaw line,
        forehead top, chin). A model that sets `key_points_suffice` gets those alone (NaN
        elsewhere); any other gets the face re-meshed for all 478 (tracking's smoothed
        points kept where it has them; NaN elsewhere only where the re-mesh finds no face).
        A box that cannot be computed (ValueError) or is under 8 px makes the frame pass
        through untouched."""
        ...

    def speech_features(
        self, samples: np.ndarray, sample_rate: int, fps: float, frames: int
    ) -> Any:
        """Everything the model needs from the speech for `frames` video frames at `fps`
        (mono float32 samples in [-1, 1]); computed once per job, indexed by `generate`."""
        ...

    def generate(
        self, crops: np.ndarray, references: np.ndarray, features: Any, frames: list[int]
    ) -> np.ndarray:
        """Redraw the mouths of a batch: `crops` and `references` are uint8 RGB arrays of
        shape (B, crop_size, crop_size, 3); `frames` are the video-frame indices (into
        `features`) the crops belong to. Returns uint8 RGB (B, crop_size, crop_size, 3)."""
        ...
