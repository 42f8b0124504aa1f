"""Pass 1 of dubbing: one read of the source that learns all the render needs, no frames kept.

The source is decoded at the output size and frame rate (steady even for variable-rate
input; rotation applied), only as far as the output needs. Faces are tracked
(`tracking`), each shot's main speaker picked (or the face in the mask), and every frame
of that speaker feeds their mouth atlas (`atlas`): small canonical mouth patches binned by
shape, so memory does not grow with the video. Each face's lower face is also unwarped
onto the template grid with any hand found near it (`skin_map`, `hands`), written to
a file in the job's folder. When a bounce will play the source backwards, the frames also
go to a lossless intermediate (`retime.LosslessCache`).

After the read: what covers each frame's mouth (`occlusion.find`), how much dub each
frame can take (`confidence`), and the atlases cleaned of mouths that were covered or
seen badly, with each speaker's calibration.

Memory: what is kept per source frame is the dubbed face's landmarks (about 100 points,
raw and smoothed: ~1.6 KB, so ~25 MB for the 10-minute maximum) and a packed occlusion
mask where something covers it; mouth patches are capped at `MAX_ATLAS_BYTES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import MediaError, NoFaceError
from engine.lipsync.dubbing import confidence, occlusion
from engine.lipsync.dubbing import skin_map as sm
from engine.lipsync.dubbing.atlas import Atlas, Calibration, Entry, PatchFrame, measure
from engine.lipsync.dubbing.blend import own_tooth_colour
from engine.lipsync.dubbing.hands import HandFinder
from engine.lipsync.dubbing.occlusion import Occlusion, TemplateStore
from engine.lipsync.dubbing.retime import LosslessCache, plays_backwards, source_indices
from engine.lipsync.dubbing.tracking import (
    STABLE,
    FaceTracker,
    VideoFaces,
    columns,
    key_points,
    smoothed_main,
)
from engine.media import iter_video_frames

# Bytes of mouth patches kept over all speakers; past it the largest atlases are thinned,
# so a video with many shots (each a new speaker) still holds a bounded amount. One speaker
# alone stays under it (at most 200 patches of at most ~145 KB).
MAX_ATLAS_BYTES = 96 * 2**20
_STABLE = columns(STABLE)
# Atlas mouths come only from frames at least this fit for dubbing (see `confidence`).
_ATLAS_MIN_WEIGHT = 0.9


@dataclass
class Speaker:
    """One dubbed person: their mouth atlas and how their mouth maps to the track."""

    atlas: Atlas
    calibration: Calibration | None = None
    entries: list[Entry] = field(default_factory=list)  # the atlas, frozen in one order
    tooth: np.ndarray | None = None  # RGB of their own teeth, where the video shows them


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
    # per source frame: how much of the dub it takes (0..1; `confidence`)
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    occlusion: Occlusion = field(default_factory=lambda: Occlusion({}, np.zeros(0, np.float32)))

    def points(self, index: int) -> np.ndarray | None:
        """Landmarks to place a mouth in frame `index`: skull points smoothed (steady
        alignment), lips and the rest as detected (they are where the pixels are)."""
        raw, smooth = self.raw[index], self.smooth[index]
        if raw is None or smooth is None:
            return None
        points = raw.copy()
        points[_STABLE] = smooth[_STABLE]
        return points


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
    """Pass 1: track faces, pick speakers, build their atlases, find what covers their
    mouths and how well each frame can be dubbed; cache frames if a bounce needs them."""
    tracker = FaceTracker(fps)
    video = VideoFaces(with_mask=mask is not None)
    building: dict[int, Atlas] = {}
    speakers: dict[int, Speaker] = {}
    identity: dict[int, int] = {}
    hands: dict[int, HandFinder] = {}
    store = TemplateStore(work_dir / "dub-faces.bin")
    rows: list[dict[int, int]] = []  # per frame: track -> row of its template picture
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
            here: dict[int, int] = {}
            for face in faces.faces:
                atlas = building.get(face.track)
                points = key_points(face.landmarks)
                if atlas is None:
                    atlas = building[face.track] = Atlas(PatchFrame.for_face(points))
                atlas.add(frame, points, count)
                finder = hands.get(face.track)
                if finder is None:
                    finder = hands[face.track] = HandFinder(fps)
                picture = sm.sample(frame, points)
                here[face.track] = store.add(picture, finder.find(frame, points, picture))
            for track in set(hands) - set(here):
                hands.pop(track).close()
            rows.append(here)
            if cache is not None:
                cache.write(frame)
            count += 1
            if count % step == 0:
                progress(min(count / expected, 1.0))
    except BaseException as exc:
        store.remove()
        if cache is not None:
            cache.remove()
        if isinstance(exc, MediaError) and count == 0:
            raise MediaError("the video has no frames that can be decoded") from exc
        raise
    finally:
        tracker.close()
        for finder in hands.values():
            finder.close()
        if cache is not None:
            cache.close()
    keep(video.finish())
    if cache is not None and (
        not speakers or not plays_backwards(source_indices(n_out, count, mode))
    ):
        cache.remove()
        cache = None
    if count == 0:
        store.remove()
        raise MediaError("the video has no frames")
    if not speakers:
        store.remove()
        if mask is not None:
            raise NoFaceError("no face found in the white area of the mask")
        raise NoFaceError("no face found in the video")
    speaker = [identity.get(track, -1) if track >= 0 else -1 for track in video.main_track]
    main_rows = [r.get(t, -1) for r, t in zip(rows, video.main_track, strict=True)]
    try:
        shapes = [measure(p) if p is not None else None for p in video.main]
        gaps = np.array([s.gap if s is not None else 0.0 for s in shapes])
        yaws = np.array([s.yaw if s is not None else 0.0 for s in shapes])
        covered = occlusion.find(store.read(), main_rows, speaker, gaps, fps, yaws)
    finally:
        store.remove()
    smooth = smoothed_main(video, fps)
    measures = confidence.measure(video.main, smooth, fps)
    weight = confidence.ease(
        confidence.frame_weights(measures, covered.visible, speaker), speaker, video.shots, fps
    )
    for person in speakers.values():
        person.atlas.keep_only(
            lambda j: weight[j] >= _ATLAS_MIN_WEIGHT and j not in covered.on_face
        )
        person.calibration = person.atlas.calibration()
        person.entries = person.atlas.listing()
        person.tooth = own_tooth_colour(person.entries)
    return Analysis(
        frames=count,
        size=size,
        speaker=speaker,
        raw=video.main,
        smooth=smooth,
        speakers=speakers,
        cache=cache,
        weight=weight,
        occlusion=covered,
    )


def _thin(speakers: dict[int, Speaker]) -> None:
    """Keep the atlases' total size bounded however many shots and speakers there are."""
    while sum(s.atlas.nbytes for s in speakers.values()) > MAX_ATLAS_BYTES:
        largest = max(speakers.values(), key=lambda s: s.atlas.nbytes)
        if len(largest.atlas.entries) <= 8:
            break
        largest.atlas.thin(max(8, len(largest.atlas.entries) * 3 // 4))
