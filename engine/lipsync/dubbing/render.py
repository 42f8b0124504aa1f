"""Pass 2 of dubbing: choose every output frame's mouth, then put it into the frame.

The new voice's mouth track says which mouth each output frame wants; `retime` says which
source frame it shows. Per speaker a Viterbi search picks, per frame, an atlas mouth (or
the frame's own) trading shape error against jumps (`atlas.choose`); rendering re-reads
the source in output order, reshapes the chosen mouth where it misses the wanted opening
(the warping fallback), aligns, colour-matches and blends it into the lower face
(`blend`), as strongly as the frame can take (`confidence`) and never over what covers
the mouth (`occlusion`). Frames without a dubbed face, or that take no dub, pass through
untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from engine.lipsync.dubbing import skin_map as sm
from engine.lipsync.dubbing.analysis import Analysis
from engine.lipsync.dubbing.atlas import (
    CLOSED_BELOW,
    SELF,
    Calibration,
    Wanted,
    choose,
    measure,
    talking,
)
from engine.lipsync.dubbing.blend import Cover, blend, reshape
from engine.lipsync.dubbing.tracking import columns, stretches
from engine.lipsync.speech.motion import limit_rate
from engine.lipsync.speech.track import MouthTrack

# Below this many canonical units of gap difference, the frame's own mouth is left alone.
_SELF_TOLERANCE = 0.02
# How far under "touching" a p/b/m aims (canonical units; see `blend.reshape`).
_PRESS = 0.03
# What covers the mouth is kept out of the blend with this margin (template pixels).
_COVER_MARGIN = 1
_COVER_SOFTEN = 0.8
_COVER_REACH = 0.35


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
    for start, end, who in stretches(speaker.tolist()):
        if who >= 0:
            person = analysis.speakers[who]
            assert person.calibration is not None
            stretch = indices[start:end]
            wanted = _wanted(analysis, person.calibration, track, start, end, stretch)
            state[start:end] = choose(person.entries, wanted, person.calibration)
            # A p/b/m presses the lips together: aim under "touching", so the reshape
            # squeezes them shut even where the chosen mouth is already about closed.
            pressed = person.calibration.shut - _PRESS
            aimed = np.where(wanted.closure, pressed, wanted.gap)
            gap[start:end] = pressed + limit_rate(
                aimed - pressed, track.fps, full=person.calibration.full
            )
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
        own_covered=np.array([j in analysis.occlusion.on_face for j in sources.tolist()]),
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
        strength = float(analysis.weight[j]) if j < len(analysis.weight) else 0.0
        if who < 0 or points is None or strength <= 0.0:
            yield frame
            continue
        person = analysis.speakers[who]
        patch_frame = person.atlas.frame
        assert person.calibration is not None
        closed = person.calibration.shut
        wanted_gap = float(the_plan.gap[i])
        teeth = float(the_plan.teeth[i])
        state = int(the_plan.state[i])
        cover = cover_of(analysis, j, frame.shape)
        if state == SELF:
            own = measure(points).gap
            if abs(own - wanted_gap) < _SELF_TOLERANCE:
                yield frame
                continue
            patch, local = patch_frame.cut(frame, points)
            shaped = reshape(patch, local, patch_frame, wanted_gap, closed, teeth, person.tooth)
            if shaped.patch is not patch:
                blend(frame, shaped.patch, shaped.points, patch_frame, points, mask=mask,
                      match_colour=False, strength=strength, cover=cover)  # fmt: skip
            yield frame
            continue
        entry = person.entries[state]
        shaped = reshape(
            entry.patch, entry.points, patch_frame, wanted_gap, closed, teeth, person.tooth
        )
        blend(frame, shaped.patch, shaped.points, patch_frame, points, mask=mask,
              strength=strength, cover=cover)  # fmt: skip
        yield frame


def cover_of(analysis: Analysis, j: int, shape: tuple[int, ...]) -> Cover | None:
    """What covers the dubbed face in source frame `j`, in frame pixels around the face
    (grown by a margin and softened, so nothing of it is painted over), or None.

    The template stops at the jaw line, but a hand on the chin goes on below it, where the
    jaw's motion still drags the skin: what touches the template's edge is carried on
    outwards (`_COVER_REACH` eye distances) beyond it."""
    covered = analysis.occlusion.mask(j)
    raw = analysis.raw[j]
    if covered is None or raw is None:
        return None
    grown = cv2.dilate(covered, np.ones((2 * _COVER_MARGIN + 1,) * 2, np.uint8))
    soft = np.maximum(grown, cv2.GaussianBlur(grown, (0, 0), _COVER_SOFTEN))
    corners = sm.vertices(raw)
    unit = float(np.hypot(*(raw[columns((33,))[0]] - raw[columns((263,))[0]])))
    reach = max(2, round(_COVER_REACH * unit))
    height, width = shape[:2]
    x0 = max(int(np.floor(corners[:, 0].min())) - reach, 0)
    y0 = max(int(np.floor(corners[:, 1].min())) - reach, 0)
    x1 = min(int(np.ceil(corners[:, 0].max())) + reach + 1, width)
    y1 = min(int(np.ceil(corners[:, 1].max())) + reach + 1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    box = (x0, y0, x1, y1)
    mask = np.clip(sm.to_image(soft, raw, box), 0.0, 1.0)
    inside = sm.to_image(np.ones_like(soft), raw, box) > 0.5
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    beyond = cv2.dilate((mask > 0.5).astype(np.uint8), kernel) > 0
    mask[beyond & ~inside] = 1.0
    return Cover(mask, box)
