"""What every render job does with its media: read the voice and the mask, count frames,
encode the frames it renders. Shared by the portrait, duet and dubbing jobs."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from engine import tts
from engine.handlers import JobContext, JobSpec
from engine.lipsync.speech.phonemes import Phone
from engine.media import Mp4Writer, load_audio, load_image
from engine.vocabulary import Resolution, Stage

ANALYSIS_RATE = 16_000
OUTPUT_RATE = 48_000


# Priced seconds are rounded to the millisecond and resamplers add a few samples.
_PRICED_SLACK = 0.01


def output_cap(spec: JobSpec) -> float | None:
    """The longest output this job may have: its `max_duration` and what it was priced for."""
    caps = [float(c) for c in (spec.params.get("max_duration"),) if c]
    if spec.max_output_seconds is not None:
        caps.append(spec.max_output_seconds + _PRICED_SLACK)
    return min(caps) if caps else None


def load_voice(path: Path, spec: JobSpec) -> tuple[np.ndarray, np.ndarray]:
    """The voice for analysis (16 kHz) and for the soundtrack (48 kHz), cut at `output_cap`."""
    limit = spec.settings.limits.max_media_seconds
    analysis = load_audio(path, sample_rate=ANALYSIS_RATE, max_seconds=limit)
    output = load_audio(path, sample_rate=OUTPUT_RATE, max_seconds=limit)
    cap = output_cap(spec)
    if cap is not None:
        analysis = analysis[: int(cap * ANALYSIS_RATE)]
        output = output[: int(cap * OUTPUT_RATE)]
    return analysis, output


def spoken_phones(path: Path) -> list[Phone] | None:
    """The synthesizer's own phones of a voice made here from text (kept beside it by
    `engine.speech_inputs`), or None for a recording, whose phones are recognised."""
    return tts.load_phones(path)


def load_mask(spec: JobSpec, shape: tuple[int, int]) -> np.ndarray | None:
    """The mask as float 0..1 at the image's size (white = may change), or None."""
    path = spec.inputs.get("mask_image")
    if path is None:
        return None
    mask = load_image(path, max_pixels=spec.settings.limits.max_image_pixels)
    grey = cv2.cvtColor(mask, cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return grey.astype(np.float32) / 255.0


def short_side(spec: JobSpec) -> int:
    """The output's short side in pixels, from the job's resolution."""
    return Resolution(spec.params["resolution"]).short_side


def frame_count(samples: int, rate: int, fps: float) -> int:
    return max(1, round(samples / rate * fps))


def encode(
    spec: JobSpec,
    ctx: JobContext,
    size: tuple[int, int],
    frames: Iterator[np.ndarray],
    n_frames: int,
    soundtrack: np.ndarray,
    *,
    crf: int | None = None,
    fps: float | Fraction | None = None,
) -> float:
    """Render and encode every frame, reporting progress; returns the output's seconds.
    The frame rate is the job's `fps` unless the handler decided one (`fps`).

    The file lasts as long as its longer stream: the whole soundtrack is muxed, and the
    frame count is rounded to whole frames, up to half a frame short of the sound. Pricing
    the frames alone would charge less than the quote whenever that half frame crosses a
    whole second."""
    if fps is None:
        fps = float(spec.params["fps"])
    render = spec.settings.render
    with Mp4Writer(
        spec.output_path,
        size[0],
        size[1],
        fps,
        audio=soundtrack,
        audio_rate=OUTPUT_RATE,
        crf=render.crf if crf is None else crf,
        preset=render.preset,
    ) as writer:
        step = max(1, n_frames // 100)
        for index, frame in enumerate(frames):
            writer.write(frame)
            if index % step == 0:
                ctx.progress(index / n_frames)
        with ctx.stage(Stage.ENCODING):  # flushing the encoders' lookahead, the index
            writer.close()
    return max(float(n_frames / fps), len(soundtrack) / OUTPUT_RATE)
