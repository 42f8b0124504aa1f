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
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.errors import MediaError
from engine.handlers import HandlerResult, JobContext, JobSpec, register
from engine.lipsync.dubbing.analysis import analyse
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


@register("lipsync-video")
def render_dub(spec: JobSpec, ctx: JobContext) -> HandlerResult:
    """The `lipsync-video` job: inputs `video`, `audio` and optional `mask_image`; params
    `resolution`, `fps`, `prompt` (expressiveness), `sync_mode`, `max_duration`.

    Stages are reported as they start (decoding, analysing speech, tracking faces,
    choosing mouths, rendering) so the CLI's bar and the API's job status show progress.
    The output lasts exactly the (possibly cut) new audio, which is what is billed.
    """
    generator = load_generator(spec.settings)
    if generator is not None:  # render.backend names a neural model
        from engine.lipsync.neural.dub import render_dub_neural

        return render_dub_neural(spec, ctx, generator)
    mode = spec.params.get("sync_mode") or SyncMode.BOUNCE
    style = style_from_prompt(spec.params.get("prompt", ""))
    video_path = spec.inputs["video"]
    with ctx.stage(Stage.DECODING):
        info = video_info(video_path)
        rate = output_rate(info, spec.params.get("fps"))
        fps = float(rate)
        voice, soundtrack = load_voice(spec.inputs["audio"], spec)
        assert info.width is not None and info.height is not None
        size = fit_resolution(info.width, info.height, short_side(spec))
        mask = user_mask(spec, size)
        n_out = frame_count(len(voice), ANALYSIS_RATE, fps)
    with ctx.stage(Stage.ANALYSING_SPEECH):
        track = mouth_track(
            voice,
            ANALYSIS_RATE,
            fps,
            n_frames=n_out,
            expressiveness=style.expressiveness,
            phones=spoken_phones(spec.inputs["audio"]),
        )
    source_frames = math.ceil((info.duration or n_out / fps) * fps)
    with ctx.stage(Stage.TRACKING_FACES):
        analysis = analyse(
            video_path,
            size,
            fps,
            n_out,
            mode=mode,
            mask=mask,
            work_dir=spec.work_dir,
            source_frames=source_frames,
            progress=ctx.progress,
        )
    try:
        indices = source_indices(n_out, analysis.frames, mode)
        with ctx.stage(Stage.CHOOSING_MOUTHS):
            the_plan = plan(analysis, track, indices)
        if plays_backwards(indices) and analysis.cache is None:
            analysis.cache = fill_cache(video_path, size, fps, analysis.frames, spec.work_dir)
        if analysis.cache is not None:
            frames = analysis.cache.play(indices)
        else:

            def reopen() -> Iterator[np.ndarray]:
                return iter_video_frames(video_path, fps=fps, size=size, max_seconds=n_out / fps)

            frames = replay(reopen, indices)
        with ctx.stage(Stage.RENDERING):
            rendered = render(analysis, the_plan, frames, mask)
            seconds = encode(
                spec, ctx, size, rendered, n_out, soundtrack, crf=spec.settings.render.dub_crf,
                fps=rate,
            )  # fmt: skip
    finally:
        if analysis.cache is not None:
            analysis.cache.remove()
    return HandlerResult(output_seconds=seconds)


def fill_cache(
    path: Path, size: tuple[int, int], fps: float, frames: int, work_dir: Path
) -> LosslessCache:
    """The lossless copy, when pass 1 did not expect to need it (a wrong duration header)."""
    cache = LosslessCache(work_dir / "dub-source.mkv", size, fps)
    with cache:
        for frame in iter_video_frames(path, fps=fps, size=size, max_seconds=frames / fps):
            cache.write(frame)
    return cache
