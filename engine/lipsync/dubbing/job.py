"""Video dubbing (`lipsync-video`): a video re-voiced, its speaker's lips following the new audio.

Two passes over the source, neither holding the video in memory:

1. **Analysis.** The source is decoded at the output size and frame rate (steady even for
   variable-rate input; rotation applied), only as far as the output needs. Faces are
   tracked (`tracking`), each shot's main speaker picked (or the face in the mask), and
   every frame of that speaker feeds their mouth atlas (`mouth_atlas`): small canonical
   mouth patches binned by shape, so memory does not grow with the video. When a bounce
   will play the source backwards, the frames also go to a lossless intermediate
   (`retime.LosslessCache`).
2. **Rendering.** The new voice's mouth track says which mouth each output frame wants;
   `retime` says which source frame it shows. Per speaker a Viterbi search picks, per
   frame, an atlas mouth (or the frame's own) trading shape error against jumps; pass 2
   re-reads the source in output order, reshapes the chosen mouth where it misses the wanted
   opening (the warping fallback), aligns, colour-matches and blends it into the lower face
   (`mouth_blend`), and encodes. Frames without a dubbed face pass through untouched.

The output lasts as long as the new audio (a longer video is trimmed, a shorter one
extended by `sync_mode`) and carries the new audio only; it is billed on that length.

Memory: frames are streamed; what is kept per source frame is the dubbed face's landmarks
(about 100 points, raw and smoothed: ~1.6 KB, so ~25 MB for the 10-minute maximum), and
mouth patches are capped at `MAX_ATLAS_BYTES` over all speakers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import MediaError, NoFaceError
from engine.handlers import HandlerResult, JobContext, JobSpec, register
from engine.lipsync.dubbing.atlas import (
    CLOSED_BELOW,
    SELF,
    Atlas,
    Calibration,
    Entry,
    PatchFrame,
    Wanted,
    choose,
    measure,
    talking,
)
from engine.lipsync.dubbing.blend import blend, reshape
from engine.lipsync.dubbing.retime import LosslessCache, plays_backwards, replay, source_indices
from engine.lipsync.dubbing.tracking import (
    STABLE,
    FaceTracker,
    VideoFaces,
    columns,
    key_points,
    smoothed_main,
)
from engine.lipsync.job_media import (
    ANALYSIS_RATE,
    SHORT_SIDE,
    encode,
    frame_count,
    load_mask,
    load_voice,
)
from engine.lipsync.speech.track import MouthTrack, mouth_track
from engine.lipsync.style import style_from_prompt
from engine.media import MediaInfo, fit_resolution, iter_video_frames, probe
from engine.media.probe import open_input

# Bytes of mouth patches kept over all speakers; past it the largest atlases are thinned,
# so a video with many shots (each a new speaker) still holds a bounded amount. One speaker
# alone stays under it (at most 200 patches of at most ~145 KB).
MAX_ATLAS_BYTES = 96 * 2**20
_STABLE = columns(STABLE)
# Below this many canonical units of gap difference, the frame's own mouth is left alone.
_SELF_TOLERANCE = 0.02
# How far under "touching" a p/b/m aims (canonical units; see `mouth_blend.reshape`).
_PRESS = 0.03


@dataclass
class Speaker:
    """One dubbed person: their mouth atlas and how their mouth maps to the track."""

    atlas: Atlas
    calibration: Calibration | None = None
    entries: list[Entry] = field(default_factory=list)  # the atlas, frozen in one order


@dataclass
class Analysis:
    """What pass 1 learnt, per source frame and per speaker (no frames kept)."""

    frames: int
    size: tuple[int, int]
    speaker: list[int]  # per source frame: speaker id, -1 where none is dubbed
    raw: list[np.ndarray | None]  # per source frame: that face's landmarks as detected
    smooth: list[np.ndarray | None]  # ... and smoothed (for alignment)
    speakers: dict[int, Speaker] = field(default_factory=dict)
    cache: LosslessCache | None = None

    def points(self, index: int) -> np.ndarray | None:
        """Landmarks to place a mouth in frame `index`: skull points smoothed (steady
        alignment), lips and the rest as detected (they are where the pixels are)."""
        raw, smooth = self.raw[index], self.smooth[index]
        if raw is None or smooth is None:
            return None
        points = raw.copy()
        points[_STABLE] = smooth[_STABLE]
        return points


def _video_info(path: Path) -> MediaInfo:
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


def _mask(spec: JobSpec, size: tuple[int, int]) -> np.ndarray | None:
    try:
        return load_mask(spec, (size[1], size[0]))
    except MediaError as exc:
        raise MediaError("the mask image could not be read") from exc


def analyse(
    path: Path,
    size: tuple[int, int],
    fps: float,
    n_out: int,
    *,
    mode: str,
    mask: np.ndarray | None,
    work_dir: Path,
    source_frames: int,
    progress: Callable[[float], None] = lambda fraction: None,
) -> Analysis:
    """Pass 1: track faces, pick speakers, build their atlases, cache frames if needed."""
    tracker = FaceTracker(fps)
    video = VideoFaces(with_mask=mask is not None)
    building: dict[int, Atlas] = {}
    speakers: dict[int, Speaker] = {}
    identity: dict[int, int] = {}
    cache: LosslessCache | None = None
    # The frame count from the header is an estimate: keep a copy unless the source surely
    # outlasts the output (it is only needed if a bounce really plays backwards).
    if mode == "bounce" and source_frames < n_out + 2:
        cache = LosslessCache(work_dir / "dub-source.mkv", size, fps)

    def keep(tracks: set[int]) -> None:
        if tracks:
            first = min(tracks)
            atlas = building.pop(first)
            for track in sorted(tracks - {first}):
                atlas.merge(building.pop(track))
            speakers[first] = Speaker(atlas)
            identity.update(dict.fromkeys(tracks, first))
            _thin(speakers)
        building.clear()

    count = 0
    expected = max(1, min(source_frames, n_out))
    step = max(1, expected // 50)
    try:
        for frame in iter_video_frames(path, fps=fps, size=size, max_seconds=n_out / fps):
            faces = tracker.update(frame)
            finished = video.add(faces, mask)
            if finished is not None:
                keep(finished)
            for face in faces.faces:
                atlas = building.get(face.track)
                points = key_points(face.landmarks)
                if atlas is None:
                    atlas = building[face.track] = Atlas(PatchFrame.for_face(points))
                atlas.add(frame, points, count)
            if cache is not None:
                cache.write(frame)
            count += 1
            if count % step == 0:
                progress(min(count / expected, 1.0))
    except BaseException as exc:
        if cache is not None:
            cache.remove()
        if isinstance(exc, MediaError) and count == 0:
            raise MediaError("the video has no frames that can be decoded") from exc
        raise
    finally:
        tracker.close()
        if cache is not None:
            cache.close()
    keep(video.finish())
    if cache is not None and (
        not speakers or not plays_backwards(source_indices(n_out, count, mode))
    ):
        cache.remove()
        cache = None
    if count == 0:
        raise MediaError("the video has no frames")
    if not speakers:
        if mask is not None:
            raise NoFaceError("no face found in the white area of the mask")
        raise NoFaceError("no face found in the video")
    speaker = [identity.get(track, -1) if track >= 0 else -1 for track in video.main_track]
    for person in speakers.values():
        person.calibration = person.atlas.calibration()
        person.entries = person.atlas.listing()
    return Analysis(
        frames=count,
        size=size,
        speaker=speaker,
        raw=video.main,
        smooth=smoothed_main(video, fps),
        speakers=speakers,
        cache=cache,
    )


def _thin(speakers: dict[int, Speaker]) -> None:
    """Keep the atlases' total size bounded however many shots and speakers there are."""
    while sum(s.atlas.nbytes for s in speakers.values()) > MAX_ATLAS_BYTES:
        largest = max(speakers.values(), key=lambda s: s.atlas.nbytes)
        if len(largest.atlas.entries) <= 8:
            break
        largest.atlas.thin(max(8, len(largest.atlas.entries) * 3 // 4))


@dataclass(frozen=True)
class Plan:
    """Per output frame: the source frame, the speaker, the atlas state and wanted gap."""

    source: np.ndarray
    speaker: np.ndarray
    state: np.ndarray
    gap: np.ndarray
    teeth: np.ndarray  # the track's teeth (0..1), for mouths the warp must open


def plan(analysis: Analysis, track: MouthTrack, indices: np.ndarray) -> Plan:
    """Choose every output frame's mouth, one Viterbi search per stretch of one speaker."""
    n = len(indices)
    speaker = np.array([analysis.speaker[j] for j in indices.tolist()], np.int64)
    state = np.full(n, SELF, np.int64)
    gap = np.zeros(n, np.float32)
    start = 0
    while start < n:
        end = start
        while end < n and speaker[end] == speaker[start]:
            end += 1
        if speaker[start] >= 0:
            person = analysis.speakers[int(speaker[start])]
            assert person.calibration is not None
            stretch = indices[start:end]
            wanted = _wanted(analysis, person.calibration, track, start, end, stretch)
            state[start:end] = choose(person.entries, wanted, person.calibration)
            # A p/b/m presses the lips together: aim under "touching", so the reshape
            # squeezes them shut even where the chosen mouth is already about closed.
            pressed = person.calibration.shut - _PRESS
            gap[start:end] = np.where(wanted.closure, pressed, wanted.gap)
        start = end
    teeth = np.asarray(track.teeth[:n], np.float32)
    return Plan(source=indices, speaker=speaker, state=state, gap=gap, teeth=teeth)


def _wanted(
    analysis: Analysis,
    calibration: Calibration,
    track: MouthTrack,
    start: int,
    end: int,
    sources: np.ndarray,
) -> Wanted:
    speaking = track.speaking[start:end]
    gap, width = calibration.wanted(track.open[start:end], track.width[start:end], speaking)
    own = [measure(_present(analysis.raw[j])) for j in sources.tolist()]
    head = [measure(_present(analysis.smooth[j])) for j in sources.tolist()]
    return Wanted(
        gap=gap,
        width=width,
        closure=(track.open[start:end] < CLOSED_BELOW) & (talking(speaking) > 0.5),
        own_gap=np.array([s.gap for s in own], np.float32),
        own_width=np.array([s.width for s in own], np.float32),
        yaw=np.array([s.yaw for s in head], np.float32),
        pitch=np.array([s.pitch for s in head], np.float32),
    )


def _present(points: np.ndarray | None) -> np.ndarray:
    assert points is not None, "a dubbed frame always has landmarks"
    return points


def render(
    analysis: Analysis,
    the_plan: Plan,
    source_frames: Iterator[tuple[int, np.ndarray]],
    mask: np.ndarray | None,
) -> Iterator[np.ndarray]:
    """Pass 2: every output frame, the chosen mouth blended into its source frame."""
    for i, (j, frame) in enumerate(source_frames):
        who = int(the_plan.speaker[i])
        points = analysis.points(j)
        if who < 0 or points is None:
            yield frame
            continue
        person = analysis.speakers[who]
        patch_frame = person.atlas.frame
        assert person.calibration is not None
        closed = person.calibration.shut
        wanted_gap = float(the_plan.gap[i])
        teeth = float(the_plan.teeth[i])
        state = int(the_plan.state[i])
        if state == SELF:
            own = measure(points).gap
            if abs(own - wanted_gap) < _SELF_TOLERANCE:
                yield frame
                continue
            patch, local = patch_frame.cut(frame, points)
            shaped = reshape(patch, local, patch_frame, wanted_gap, closed, teeth)
            if shaped.patch is not patch:
                blend(frame, shaped.patch, shaped.points, patch_frame, points, mask=mask,
                      match_colour=False)  # fmt: skip
            yield frame
            continue
        entry = person.entries[state]
        shaped = reshape(entry.patch, entry.points, patch_frame, wanted_gap, closed, teeth)
        blend(frame, shaped.patch, shaped.points, patch_frame, points, mask=mask)
        yield frame


@register("lipsync-video")
def render_dub(spec: JobSpec, ctx: JobContext) -> HandlerResult:
    """The `lipsync-video` job: inputs `video`, `audio` and optional `mask_image`; params
    `resolution`, `fps`, `prompt` (expressiveness), `sync_mode`, `max_duration`.

    Stages are reported as they start (decoding, analysing speech, tracking faces,
    choosing mouths, rendering) so the CLI's bar and the API's job status show progress.
    The output lasts exactly the (possibly cut) new audio, which is what is billed.
    """
    fps = float(spec.params["fps"])
    mode = spec.params.get("sync_mode") or "bounce"
    style = style_from_prompt(spec.params.get("prompt", ""))
    video_path = spec.inputs["video"]
    with ctx.stage("decoding"):
        info = _video_info(video_path)
        voice, soundtrack = load_voice(spec.inputs["audio"], spec)
        assert info.width is not None and info.height is not None
        size = fit_resolution(info.width, info.height, SHORT_SIDE[spec.params["resolution"]])
        mask = _mask(spec, size)
        n_out = frame_count(len(voice), ANALYSIS_RATE, fps)
    with ctx.stage("analysing speech"):
        track = mouth_track(
            voice, ANALYSIS_RATE, fps, n_frames=n_out, expressiveness=style.expressiveness
        )
    source_frames = math.ceil((info.duration or n_out / fps) * fps)
    with ctx.stage("tracking faces"):
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
        with ctx.stage("choosing mouths"):
            the_plan = plan(analysis, track, indices)
        if plays_backwards(indices) and analysis.cache is None:
            analysis.cache = _fill_cache(video_path, size, fps, analysis.frames, spec.work_dir)
        if analysis.cache is not None:
            frames = analysis.cache.play(indices)
        else:

            def reopen() -> Iterator[np.ndarray]:
                return iter_video_frames(video_path, fps=fps, size=size, max_seconds=n_out / fps)

            frames = replay(reopen, indices)
        with ctx.stage("rendering"):
            rendered = render(analysis, the_plan, frames, mask)
            seconds = encode(
                spec, ctx, size, rendered, n_out, soundtrack, crf=spec.settings.render.dub_crf
            )
    finally:
        if analysis.cache is not None:
            analysis.cache.remove()
    return HandlerResult(output_seconds=seconds)


def _fill_cache(
    path: Path, size: tuple[int, int], fps: float, frames: int, work_dir: Path
) -> LosslessCache:
    """The lossless copy, when pass 1 did not expect to need it (a wrong duration header)."""
    cache = LosslessCache(work_dir / "dub-source.mkv", size, fps)
    with cache:
        for frame in iter_video_frames(path, fps=fps, size=size, max_seconds=frames / fps):
            cache.write(frame)
    return cache
