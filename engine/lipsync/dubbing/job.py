"""The `lipsync-video` job: a video re-voiced, its speaker's lips following the new audio.

Two passes over the source, neither holding the video in memory: `analysis` (track faces,
learn each speaker's mouths, find what covers them and how well each frame can be dubbed)
and `render` (choose a mouth per output frame and blend it in). `retime` fits the video to
the audio: the output lasts as long as the new audio (a longer video is trimmed, a shorter
one extended by `sync_mode`) and carries the new audio only; it is billed on that length.
The output keeps the source's frame rate (its average, for variable-rate video) unless the
request names one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.errors import MediaError
from engine.handlers import HandlerResult, JobContext, JobSpec, register
from engine.lipsync.dubbing.analysis import Analysis, analyse
from engine.lipsync.dubbing.render import plan, render
from engine.lipsync.dubbing.retime import LosslessCache, plays_backwards, replay, source_indices
from engine.lipsync.job_media import (
    ANALYSIS_RATE,
    encode,
    frame_count,
    load_mask,
    load_voice,
    short_side,
    spoken_phones,
)
from engine.lipsync.neural import load_generator
from engine.lipsync.speech.track import mouth_track
from engine.lipsync.style import style_from_prompt
from engine.media import MediaInfo, fit_resolution, iter_video_frames, probe
from engine.media.encode import frame_rate
from engine.media.probe import open_input
from engine.vocabulary import Stage, SyncMode

Mask = np.ndarray | None  # the user's mask in output pixels: where the mouth may be painted

# Frame rates a source may keep; outside them (a slide show at 2 fps, a 240 fps phone clip)
# the output uses the nearest bound.
MIN_FPS, MAX_FPS = 15.0, 60.0


def output_rate(info: MediaInfo, asked: object) -> Fraction:
    """The output's frame rate: the one asked for, else the source's own (its average for
    variable-rate video, exact for NTSC rates such as 24000/1001), within bounds."""
    if asked:
        return Fraction(int(asked))  # type: ignore[call-overload]
    if not info.fps or not math.isfinite(info.fps):
        return Fraction(25)
    return frame_rate(min(max(float(info.fps), MIN_FPS), MAX_FPS))


def video_info(path: Path) -> MediaInfo:
    """The source's facts, refusing what is not a video with a message that says why
    (the doors check kinds at submit, but the CLI and plugins call handlers directly)."""
    try:
        info = probe(path)
    except MediaError:
        if _picture_stream(path) == "empty":
            raise MediaError("the video has no frames") from None
        raise
    if info.kind == "video" and info.has_video and info.width and info.height:
        return info
    if info.kind == "image":
        raise MediaError("the video input is a still image; use lipsync-image for photos")
    if _picture_stream(path) == "empty":
        raise MediaError("the video has no frames")
    raise MediaError("the video input is audio only: it has no pictures; send a video")


def _picture_stream(path: Path) -> str:
    """ "none" (no video stream), "empty" (one without a single picture) or "some"."""
    with open_input(path) as container:
        if not container.streams.video:
            return "none"
        for packet in container.demux(container.streams.video[0]):
            if packet.size:
                return "some"
    return "empty"


def user_mask(spec: JobSpec, size: tuple[int, int]) -> np.ndarray | None:
    try:
        return load_mask(spec, (size[1], size[0]))
    except MediaError as exc:
        raise MediaError("the mask image could not be read") from exc


class MouthPainter(Protocol):
    """What draws a dub's mouths: the classic atlas of the speaker's own mouths, or a neural
    model (`engine.lipsync.neural.dub`). Everything else of the job is `dub`'s, shared."""

    def listen(self, source: DubSource) -> None:
        """Learn the new speech (inside the "analysing speech" stage)."""
        ...

    def prepare(self, analysis: Analysis, indices: list[int], ctx: JobContext) -> None:
        """Decide what to draw once faces are known (a stage of its own if it has one)."""
        ...

    def paint(
        self, analysis: Analysis, frames: Iterator[tuple[int, np.ndarray]], mask: Mask
    ) -> Iterator[np.ndarray]:
        """The output frames, from (source index, frame) pairs in output order."""
        ...


@dataclass(frozen=True)
class DubSource:
    """The decoded facts of a dub: the video, its output rate and size, the new voice."""

    path: Path
    rate: Fraction
    voice: np.ndarray
    soundtrack: Any
    size: tuple[int, int]
    mask: Mask
    n_out: int
    seconds: float | None  # the source's claimed duration

    @property
    def fps(self) -> float:
        return float(self.rate)


class ClassicMouths:
    """The built-in painter: phones heard in the voice, mouths chosen from the atlas."""

    def __init__(self, spec: JobSpec) -> None:
        self._spec = spec
        self._style = style_from_prompt(spec.params.get("prompt", ""))

    def listen(self, source: DubSource) -> None:
        self._track = mouth_track(
            source.voice,
            ANALYSIS_RATE,
            source.fps,
            n_frames=source.n_out,
            expressiveness=self._style.expressiveness,
            phones=spoken_phones(self._spec.inputs["audio"]),
        )

    def prepare(self, analysis: Analysis, indices: list[int], ctx: JobContext) -> None:
        with ctx.stage(Stage.CHOOSING_MOUTHS):
            self._plan = plan(analysis, self._track, indices)

    def paint(
        self, analysis: Analysis, frames: Iterator[tuple[int, np.ndarray]], mask: Mask
    ) -> Iterator[np.ndarray]:
        return render(analysis, self._plan, frames, mask)


@register("lipsync-video")
def render_dub(spec: JobSpec, ctx: JobContext) -> HandlerResult:
    """The `lipsync-video` job: inputs `video`, `audio` and optional `mask_image`; params
    `resolution`, `fps`, `prompt` (expressiveness), `sync_mode`, `max_duration`. The
    mouths are the classic renderer's, or a neural model's when `render.backend` names one.
    """
    generator = load_generator(spec.settings)
    if generator is not None:
        from engine.lipsync.neural.dub import NeuralMouths

        return dub(spec, ctx, NeuralMouths(generator))
    return dub(spec, ctx, ClassicMouths(spec))


def dub(spec: JobSpec, ctx: JobContext, painter: MouthPainter) -> HandlerResult:
    """Decode, hear the voice, track the faces, fit the video to the voice, paint, encode.

    Stages are reported as they start (decoding, analysing speech, tracking faces, the
    painter's own, rendering) so the CLI's bar and the API's job status show progress.
    The output lasts exactly the (possibly cut) new audio, which is what is billed.
    """
    mode = spec.params.get("sync_mode") or SyncMode.BOUNCE
    with ctx.stage(Stage.DECODING):
        source = decode(spec)
    with ctx.stage(Stage.ANALYSING_SPEECH):
        painter.listen(source)
    fps, n_out = source.fps, source.n_out
    source_frames = math.ceil((source.seconds or n_out / fps) * fps)
    with ctx.stage(Stage.TRACKING_FACES):
        analysis = analyse(
            source.path,
            source.size,
            fps,
            n_out,
            mode=mode,
            mask=source.mask,
            work_dir=spec.work_dir,
            source_frames=source_frames,
            progress=ctx.progress,
        )
    try:
        indices = source_indices(n_out, analysis.frames, mode)
        painter.prepare(analysis, indices, ctx)
        if plays_backwards(indices) and analysis.cache is None:
            analysis.cache = fill_cache(
                source.path, source.size, fps, analysis.frames, spec.work_dir
            )
        if analysis.cache is not None:
            frames = analysis.cache.play(indices)
        else:

            def reopen() -> Iterator[np.ndarray]:
                return iter_video_frames(
                    source.path, fps=fps, size=source.size, max_seconds=n_out / fps
                )

            frames = replay(reopen, indices)
        with ctx.stage(Stage.RENDERING):
            rendered = painter.paint(analysis, frames, source.mask)
            seconds = encode(
                spec, ctx, source.size, rendered, n_out, source.soundtrack,
                crf=spec.settings.render.dub_crf, fps=source.rate,
            )  # fmt: skip
    finally:
        if analysis.cache is not None:
            analysis.cache.remove()
    return HandlerResult(output_seconds=seconds)


def decode(spec: JobSpec) -> DubSource:
    video_path = spec.inputs["video"]
    info = video_info(video_path)
    rate = output_rate(info, spec.params.get("fps"))
    voice, soundtrack = load_voice(spec.inputs["audio"], spec)
    assert info.width is not None and info.height is not None
    size = fit_resolution(info.width, info.height, short_side(spec))
    return DubSource(
        path=video_path,
        rate=rate,
        voice=voice,
        soundtrack=soundtrack,
        size=size,
        mask=user_mask(spec, size),
        n_out=frame_count(len(voice), ANALYSIS_RATE, float(rate)),
        seconds=info.duration,
    )


def fill_cache(
    path: Path, size: tuple[int, int], fps: float, frames: int, work_dir: Path
) -> LosslessCache:
    """The lossless copy, when pass 1 did not expect to need it (a wrong duration header)."""
    cache = LosslessCache(work_dir / "dub-source.mkv", size, fps)
    with cache:
        for frame in iter_video_frames(path, fps=fps, size=size, max_seconds=frames / fps):
            cache.write(frame)
    return cache
