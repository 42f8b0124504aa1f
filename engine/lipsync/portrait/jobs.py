"""The photo jobs, `lipsync-image` (a talking portrait) and `lipsync-image-multi` (a duet).

Each handler decodes its inputs, finds the face(s), turns the voice into a mouth track,
then renders and encodes frame by frame (never holding the video in memory), reporting
progress as it goes. Bad input surfaces as a `LipsyncError` with a message for the user.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.handlers import HandlerResult, JobContext, JobSpec, register
from engine.lipsync.faces import Face, find_face, find_two_faces
from engine.lipsync.job_media import (
    ANALYSIS_RATE,
    OUTPUT_RATE,
    encode,
    frame_count,
    load_mask,
    load_voice,
    output_cap,
    short_side,
    spoken_phones,
)
from engine.lipsync.neural import load_generator
from engine.lipsync.portrait.animator import PortraitAnimator, mouth_frames
from engine.lipsync.portrait.duet import DuetAnimator
from engine.lipsync.portrait.mouth_rig import require_closable
from engine.lipsync.portrait.timeline import arrange, place_track
from engine.lipsync.speech.motion import limit_rate
from engine.lipsync.speech.track import MouthTrack, mouth_track
from engine.lipsync.style import style_from_prompt
from engine.media import fit_resolution, load_image
from engine.vocabulary import Stage

LIP_SEAL = 0.1


def sealed(openness: np.ndarray, threshold: float = LIP_SEAL) -> np.ndarray:
    """Openness with a small dead zone: below `threshold` the lips meet.

    The speech track keeps the jaw a hair open on most consonants and reaches exactly 0
    only where the recogniser heard p/b/m; a photo's lips rendered a hair apart read as
    open, so a lip seal makes near-closures real closures (as lips do on t, d, n too).
    """
    opened = np.clip((openness - threshold) / (1.0 - threshold), 0.0, 1.0)
    # A slight lift of the mid range keeps open vowels as open as before the seal.
    return (opened**0.8).astype(np.float32)


def _track(voice: np.ndarray, fps: float, n_frames: int, source: Path) -> MouthTrack:
    # Neutral expressiveness here: the animator applies the prompt's style itself.
    return mouth_track(voice, ANALYSIS_RATE, fps, n_frames=n_frames, phones=spoken_phones(source))


@dataclass(frozen=True)
class PhotoSource:
    """A talking portrait's decoded inputs: the photo, its face, the voice, the frames."""

    image: np.ndarray
    face: Face
    voice: np.ndarray
    soundtrack: Any
    mask: np.ndarray | None  # in the photo's pixels
    fps: float
    n_frames: int
    size: tuple[int, int]  # output frame size


class PortraitPainter(Protocol):
    """What draws a portrait's mouth: the classic mouth rig, or a neural model
    (`engine.lipsync.neural.portrait`). Decoding, the head's motion and encoding are
    `animate`'s, shared."""

    def listen(self, source: PhotoSource) -> None:
        """Learn the speech (inside the "analysing speech" stage)."""
        ...

    def paint(self, source: PhotoSource, animator: PortraitAnimator) -> Iterator[np.ndarray]:
        """The output frames, the animator moving the head and eyes."""
        ...


class ClassicPortrait:
    """The built-in painter: phones heard (or given with a typed voice), the rig's mouths."""

    def __init__(self, spec: JobSpec) -> None:
        self._audio = spec.inputs["audio"]

    def listen(self, source: PhotoSource) -> None:
        self._track = _track(source.voice, source.fps, source.n_frames, self._audio)

    def paint(self, source: PhotoSource, animator: PortraitAnimator) -> Iterator[np.ndarray]:
        track, fps = self._track, source.fps
        mouths = mouth_frames(
            limit_rate(sealed(track.open), fps),
            track.width,
            track.teeth,
            track.speaking,
            fps,
            track.tongue,
        )
        return (animator.frame(i, fps, mouth) for i, mouth in enumerate(mouths))


@register("lipsync-image")
def render_portrait(spec: JobSpec, ctx: JobContext) -> HandlerResult:
    generator = load_generator(spec.settings)
    if generator is not None:  # render.backend names a neural model
        from engine.lipsync.neural.portrait import NeuralPortrait

        return animate(spec, ctx, NeuralPortrait(generator))
    return animate(spec, ctx, ClassicPortrait(spec))


def animate(spec: JobSpec, ctx: JobContext, painter: PortraitPainter) -> HandlerResult:
    """The `lipsync-image` job: the photo's head moves and blinks, `painter` draws the mouth."""
    fps = float(spec.params["fps"])
    style = style_from_prompt(spec.params.get("prompt", ""))
    with ctx.stage(Stage.DECODING):
        image = load_image(spec.inputs["image"], max_pixels=spec.settings.limits.max_image_pixels)
        voice, soundtrack = load_voice(spec.inputs["audio"], spec)
        mask = load_mask(spec, image.shape[:2])
    with ctx.stage(Stage.FINDING_FACES):
        face = find_face(image)
        require_closable(face)
    source = PhotoSource(
        image=image,
        face=face,
        voice=voice,
        soundtrack=soundtrack,
        mask=mask,
        fps=fps,
        n_frames=frame_count(len(voice), ANALYSIS_RATE, fps),
        size=fit_resolution(image.shape[1], image.shape[0], short_side(spec)),
    )
    with ctx.stage(Stage.ANALYSING_SPEECH):
        painter.listen(source)
    with ctx.stage(Stage.RENDERING):
        animator = PortraitAnimator(
            image, face, source.size, seed=spec.params["seed"], style=style, mask=mask
        )
        frames = painter.paint(source, animator)
        seconds = encode(spec, ctx, source.size, frames, source.n_frames, soundtrack)
    return HandlerResult(output_seconds=seconds)


@register("lipsync-image-multi")
def render_duet(spec: JobSpec, ctx: JobContext) -> HandlerResult:
    fps = float(spec.params["fps"])
    style = style_from_prompt(spec.params.get("prompt", ""))
    order = spec.params.get("order", "meanwhile")
    with ctx.stage(Stage.DECODING):
        image = load_image(spec.inputs["image"], max_pixels=spec.settings.limits.max_image_pixels)
        left_voice, left_out = load_voice(spec.inputs["left_audio"], spec)
        right_voice, right_out = load_voice(spec.inputs["right_audio"], spec)
        mask = load_mask(spec, image.shape[:2])
    with ctx.stage(Stage.FINDING_FACES):
        left_face, right_face = find_two_faces(image)
        require_closable(left_face, "the face on the left")
        require_closable(right_face, "the face on the right")
    with ctx.stage(Stage.ANALYSING_SPEECH):
        analysis = arrange(left_voice, right_voice, order)
        soundtrack = arrange(left_out, right_out, order).mix
        cap = output_cap(spec)
        if cap is not None:
            soundtrack = soundtrack[: int(cap * OUTPUT_RATE)]
        n_frames = frame_count(len(soundtrack), OUTPUT_RATE, fps)
        sides = []
        for voice, start, role in (
            (left_voice, analysis.left_start, "left_audio"),
            (right_voice, analysis.right_start, "right_audio"),
        ):
            own = frame_count(len(voice), ANALYSIS_RATE, fps)
            track = _track(voice, fps, own, spec.inputs[role])
            start_frame = round(start / ANALYSIS_RATE * fps)
            placed = [
                place_track(values, start_frame, n_frames, 0.0)
                for values in (
                    limit_rate(sealed(track.open), fps),
                    track.width,
                    track.teeth,
                    track.speaking,
                    track.tongue,
                )
            ]
            sides.append(mouth_frames(*placed[:4], fps, placed[4]))
    size = fit_resolution(image.shape[1], image.shape[0], short_side(spec))
    with ctx.stage(Stage.RENDERING):
        animator = DuetAnimator(
            image, left_face, right_face, size, seed=spec.params["seed"], style=style, mask=mask
        )
        frames = (animator.frame(i, fps, sides[0][i], sides[1][i]) for i in range(n_frames))
        seconds = encode(spec, ctx, size, frames, n_frames, soundtrack)
    return HandlerResult(output_seconds=seconds)
