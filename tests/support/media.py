"""Small real media files made on the fly, so no binary test data lives in the repo."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import cv2
import numpy as np


def write_tone_wav(path: Path, seconds: float, *, rate: int = 16000, freq: float = 220.0) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def write_png(path: Path, width: int = 64, height: int = 48) -> Path:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 1] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    cv2.imwrite(str(path), image)
    return path


def face_photo_path() -> Path:
    """A real face photo that ships with matplotlib (Grace Hopper)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def astronaut_photo_path() -> Path:
    """A second real face photo, shipped inside scikit-image (Eileen Collins, NASA)."""
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "data" / "astronaut.png"


def face_photo_paths() -> dict[str, Path]:
    return {"hopper": face_photo_path(), "astronaut": astronaut_photo_path()}


def decode_mp4(path: Path) -> tuple[list[np.ndarray], dict]:
    """An output's RGB frames and what a player reads from its streams."""
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        info = {
            "codec": video.codec_context.name,
            "audio_codec": audio.codec_context.name,
            "size": (video.codec_context.width, video.codec_context.height),
            "pix_fmt": video.codec_context.pix_fmt,
            "fps": float(video.average_rate),
        }
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames, info
