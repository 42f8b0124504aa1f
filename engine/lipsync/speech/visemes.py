"""From recognised phones and loudness to smooth mouth-parameter curves at 100 Hz.

The ideas follow Rhubarb Lip Sync: a handful of mouth shapes (visemes) is enough to read as
speech, as long as the lips *really* close on p/b/m, open on open vowels, and rest when
nobody speaks. Three sources are combined:

* Phones (PocketSphinx) pick the shape: rounded, spread, lip-teeth, ... and where the
  lips must be pressed shut (recognised P/B/M give open == 0 exactly, for >= 1 video frame).
* Loudness in the F1/F2 band drives the jaw: it opens fully at each syllable's loudness
  peak and comes up at every consonant dip. This matters because phone recognition alone
  finds only ~55-60 % of the p/b/m in our espeak test sentences (the rest come out as L,
  W, N, ...): with the jaw following sonority the mouth still (nearly) closes on them.
  Other consonants get a sliver of a gap (>= `_SPEECH_MIN_OPEN`) so open == 0 keeps
  meaning "lips pressed together".
* Speech activity (level with hysteresis) forces rest in silences; phones the recogniser
  reports there are ignored.

All curves live on a 100 Hz grid whose frame k describes time k * 10 ms, the same grid the
recogniser uses. `mouth_track` samples them at the video frame rate. Every filter here is
zero-phase, so nothing lags the voice: the symmetric smoothing starts each movement before
the phone boundary, which is the "anticipation" of coarticulation, and lip rounding and
spreading are smoothed more (they are slower and anticipate further in real speech).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from typing import NamedTuple

import numpy as np

from engine.lipsync.speech.phonemes import FRAME_S, SAMPLE_RATE, Phone


class Shape(NamedTuple):
    """Target mouth parameters (see `MouthTrack` for the meaning and ranges)."""

    open: float
    width: float
    teeth: float
    tongue: float = 0.0


class Viseme(StrEnum):
    """Mouth shapes; values are the nearest Rhubarb letters (I is our own spread shape)."""

    REST = "X"
    CLOSED = "A"  # p b m: lips pressed together
    CONSONANT = "B"  # most consonants: teeth close together, lips slightly apart
    OPEN = "C"  # mid vowels: eh, uh, ey
    WIDE_OPEN = "D"  # open vowels: aa, ae, ay, aw
    ROUNDED = "E"  # open rounded vowels: aw (thought), oh, oy, er
    PURSED = "F"  # close rounded: oo, w
    LIP_TEETH = "G"  # f v: upper teeth on the lower lip
    TONGUE = "H"  # l th: tongue visible behind open teeth
    SPREAD = "I"  # ee, ih, y: lips spread, teeth showing


SHAPES: dict[Viseme, Shape] = {
    Viseme.REST: Shape(0.0, 0.0, 0.0),
    Viseme.CLOSED: Shape(0.0, 0.0, 0.0),
    Viseme.CONSONANT: Shape(0.12, 0.2, 0.7),
    Viseme.OPEN: Shape(0.55, 0.25, 0.45),
    Viseme.WIDE_OPEN: Shape(0.85, 0.1, 0.35),
    Viseme.ROUNDED: Shape(0.5, -0.55, 0.2),
    Viseme.PURSED: Shape(0.2, -0.9, 0.05),
    Viseme.LIP_TEETH: Shape(0.1, 0.05, 1.0),
    Viseme.TONGUE: Shape(0.3, 0.1, 0.6, 1.0),
    Viseme.SPREAD: Shape(0.25, 0.8, 0.85),
}

PHONE_VISEMES: dict[str, Viseme] = {
    **dict.fromkeys(("P", "B", "M"), Viseme.CLOSED),
    **dict.fromkeys(("AA", "AE", "AY", "AW"), Viseme.WIDE_OPEN),
    **dict.fromkeys(("AH", "EH", "EY"), Viseme.OPEN),
    **dict.fromkeys(("AO", "OW", "OY", "ER"), Viseme.ROUNDED),
    **dict.fromkeys(("UW", "UH", "W"), Viseme.PURSED),
    **dict.fromkeys(("IY", "IH", "Y"), Viseme.SPREAD),
    **dict.fromkeys(("F", "V"), Viseme.LIP_TEETH),
    **dict.fromkeys(("L", "TH", "DH"), Viseme.TONGUE),
    **dict.fromkeys(
        ("T", "D", "N", "NG", "K", "G", "S", "Z", "SH", "ZH", "CH", "JH", "R"),
        Viseme.CONSONANT,
    ),
    # Noise the recogniser could not place while someone speaks: a neutral half-open mouth
    # that the loudness scaling then opens or closes.
    **dict.fromkeys(("SPN", "NSN"), Viseme.OPEN),
}
"""ARPAbet phone to viseme. HH is absent on purpose: it takes the next phone's shape."""

_BILABIAL = {"P", "B", "M"}
_TRANSPARENT = {"HH"}
_PAUSE = {"SIL"}
# A pause inside running speech (mostly a stop closure the recogniser heard as silence).
_PAUSE_SHAPE = Shape(0.06, 0.0, 0.3)

_WINDOW = 400  # 25 ms analysis window
_FFT_SIZE = 512
_SHORT_PHONE_FRAMES = 4  # phones under 40 ms only half reach their own target
_SMOOTH_SIGMA_S = {"open": 0.018, "width": 0.03, "teeth": 0.022, "tongue": 0.025}
_CLOSURE_MIN_FRAMES = 3  # 30 ms: at least one frame at 30 fps falls inside
_CLOSURE_RAMP_FRAMES = 4  # lips take ~40 ms to part after a closure
_MIN_SPEECH_OVER_FLOOR_DB = 10.0  # quieter than this over the noise floor is not speech
_QUIETEST_SPEECH_DB = -55.0  # speech peaking under -55 dBFS is treated as silence
_MIN_SPEECH_FRAMES = 5  # 50 ms: shorter bursts are clicks
_SPEECH_ON_SHARE = 0.35  # speech starts this far from the noise floor up to speech level
_SPEECH_ON_MAX_BELOW_PEAK_DB = 35.0  # ... but never lower than this under the speech level
_SPEECH_HYSTERESIS_DB = 6.0
_BRIDGED_GAP_FRAMES = 12  # quieter stretches under 120 ms (stop closures) stay speech
_SPEECH_MARGIN_FRAMES = 2  # weak onsets/releases at the edges of a detected stretch
_OPEN_GAIN_FLOOR = 0.55  # quiet passages still open to 55 % of a normal syllable peak
_GAIN_SMOOTH_S = 0.01
_PEAK_SMOOTH_S = 0.03
_SPEAKING_SMOOTH_S = 0.06
_SPEECH_MIN_OPEN = 0.03  # non-p/b/m consonants: lips nearly, never fully, together
_SYLLABLE_RADIUS_FRAMES = 12  # a syllable's loudness peak is within ~120 ms
_LOCAL_RANGE_DB = 18.0  # this far under the syllable peak the jaw is fully up
_LOCAL_FULL_DB = 5.0  # within this of the peak it is fully down
# With the synthesizer's own phones (no recognition errors to hedge) a quiet vowel is still
# a vowel: sonority scales its opening down to this share at most, not to nothing. Fast
# Japanese has 50 ms vowels 8-10 dB under their neighbours that otherwise barely opened.
_EXACT_LOCAL_FLOOR = 0.7
_FLOORED_VISEMES = {Viseme.OPEN, Viseme.WIDE_OPEN, Viseme.ROUNDED}


@dataclass(frozen=True)
class Loudness:
    """Per-frame levels in dB (full scale) on the 100 Hz grid."""

    level_db: np.ndarray  # 80 Hz .. 8 kHz: is anyone speaking?
    jaw_db: np.ndarray  # 250 Hz .. 3.5 kHz (F1/F2 region): how open is the vocal tract?

    @property
    def n_frames(self) -> int:
        return int(self.level_db.shape[0])


@dataclass(frozen=True)
class Curves:
    """Mouth parameters on the 100 Hz grid plus the closures that must show on video."""

    open: np.ndarray
    width: np.ndarray
    teeth: np.ndarray
    speaking: np.ndarray
    closures: list[tuple[float, float]]  # (start_s, end_s) where the lips are shut
    tongue: np.ndarray  # 0..1: the tongue tip raised behind the upper teeth (l, th)


def n_grid_frames(n_samples: int) -> int:
    """Grid frames needed to cover the audio, frame k describing time k * 10 ms."""
    return n_samples // int(SAMPLE_RATE * FRAME_S) + 1


def measure_loudness(audio: np.ndarray, *, block_frames: int = 2048) -> Loudness:
    """Band levels of 25 ms Hann windows centred on each grid time.

    Centring (rather than starting) the window at k * 10 ms is what keeps the mouth in
    sync: a window that starts there would report each sound 12 ms late. Processed in
    blocks so a 10-minute input never materialises all windows (or a padded copy) at once.
    """
    n = n_grid_frames(audio.shape[0])
    window = np.hanning(_WINDOW).astype(np.float32)
    norm = float(np.sum(window**2)) * _FFT_SIZE / 2
    freqs = np.fft.rfftfreq(_FFT_SIZE, 1.0 / SAMPLE_RATE)
    level_band = (freqs >= 80) & (freqs <= 8000)
    jaw_band = (freqs >= 250) & (freqs <= 3500)
    level = np.empty(n, np.float32)
    jaw = np.empty(n, np.float32)
    for first in range(0, n, block_frames):
        count = min(block_frames, n - first)
        frames = _block_windows(audio, first, count) * window
        power = np.abs(np.fft.rfft(frames, _FFT_SIZE, axis=1)) ** 2 / norm
        level[first : first + count] = _db(power[:, level_band].sum(axis=1))
        jaw[first : first + count] = _db(power[:, jaw_band].sum(axis=1))
    return Loudness(level, jaw)


def _block_windows(audio: np.ndarray, first: int, count: int) -> np.ndarray:
    """(count, _WINDOW) analysis windows for grid frames first.., zero past the ends."""
    hop = int(SAMPLE_RATE * FRAME_S)
    lo = first * hop - _WINDOW // 2
    hi = (first + count - 1) * hop + _WINDOW // 2
    span = np.zeros(hi - lo, np.float32)
    src_lo, src_hi = max(lo, 0), min(hi, audio.shape[0])
    if src_hi > src_lo:
        span[src_lo - lo : src_hi - lo] = audio[src_lo:src_hi]
    return np.lib.stride_tricks.sliding_window_view(span, _WINDOW)[::hop][:count]


def _db(power: np.ndarray) -> np.ndarray:
    return (10.0 * np.log10(power + 1e-10)).astype(np.float32)


def speech_activity(loudness: Loudness) -> np.ndarray:
    """Boolean per grid frame: is someone speaking?

    Thresholds adapt to the recording (noise floor and speech level from percentiles), with
    hysteresis so a word does not flicker, a minimum length so clicks do not count, and
    bridging of gaps under 120 ms so stop closures inside words stay "speech".
    """
    level = loudness.level_db
    if level.size == 0:
        return np.zeros(0, bool)
    floor = float(np.percentile(level, 10))
    # The speech level comes from the loud frames only, so that a few seconds of speech in
    # a long silent file still set it.
    loud = level[level > floor + _MIN_SPEECH_OVER_FLOOR_DB]
    if loud.size < _MIN_SPEECH_FRAMES:
        return np.zeros(level.shape, bool)
    peak = float(np.percentile(loud, 95))
    if peak < _QUIETEST_SPEECH_DB:
        return np.zeros(level.shape, bool)
    on = max(floor + _SPEECH_ON_SHARE * (peak - floor), peak - _SPEECH_ON_MAX_BELOW_PEAK_DB)
    active = _hysteresis(level, on, on - _SPEECH_HYSTERESIS_DB)
    active = _fill_gaps(active, max_gap=_BRIDGED_GAP_FRAMES)
    active = _drop_short(active, min_len=_MIN_SPEECH_FRAMES)
    return _dilate(active, _SPEECH_MARGIN_FRAMES)


def _hysteresis(level: np.ndarray, on: float, off: float) -> np.ndarray:
    """Enter speech above `on`, leave it below `off`; frames in between keep the state."""
    above = level >= on
    below = level < off
    state = np.zeros(level.shape, bool)
    # The state is "on" at frame k when the last decisive frame (above or below) was above.
    decisive = np.where(above | below, np.arange(level.size), -1)
    last = np.maximum.accumulate(decisive)
    has_last = last >= 0
    state[has_last] = above[last[has_last]]
    return state


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of the True runs."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _fill_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    out = mask.copy()
    runs = _runs(mask)
    for (_, end), (start, _) in pairwise(runs):
        if start - end <= max_gap:
            out[end:start] = True
    return out


def _drop_short(mask: np.ndarray, min_len: int) -> np.ndarray:
    out = mask.copy()
    for start, end in _runs(mask):
        if end - start < min_len:
            out[start:end] = False
    return out


def _convolve_same(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Centred convolution that keeps len(x) even when x is shorter than the kernel."""
    radius = kernel.shape[0] // 2
    padded = np.pad(x.astype(np.float32), (radius, kernel.shape[0] - 1 - radius))
    return np.convolve(padded, kernel.astype(np.float32), mode="valid")


def _dilate(mask: np.ndarray, frames: int) -> np.ndarray:
    if frames <= 0 or not mask.any():
        return mask.copy()
    return _convolve_same(mask, np.ones(2 * frames + 1)) > 0


@dataclass(frozen=True)
class _Segment:
    phone: str
    start: int  # grid frames, inclusive
    end: int  # exclusive
    start_s: float = 0.0  # the phone's own times, before the grid
    end_s: float = 0.0


def _segments(phones: list[Phone], n: int) -> list[_Segment]:
    """Phones on the grid; every phone keeps at least one frame so none is lost."""
    segments: list[_Segment] = []
    for name, start_s, end_s in phones:
        start = min(max(round(start_s / FRAME_S), 0), n)
        end = min(max(round(end_s / FRAME_S), start + 1), n)
        if start < end:
            segments.append(_Segment(name, start, end, start_s, end_s))
    return segments


def _viseme_of(segments: list[_Segment], i: int) -> Viseme | None:
    """The viseme for segment i; None for pauses. HH borrows the next phone's shape."""
    phone = segments[i].phone
    if phone in _PAUSE:
        return None
    if phone in _TRANSPARENT:
        for later in segments[i + 1 : i + 3]:
            if later.phone not in _TRANSPARENT and later.phone not in _PAUSE:
                return PHONE_VISEMES.get(later.phone, Viseme.CONSONANT)
        return Viseme.CONSONANT
    return PHONE_VISEMES.get(phone, Viseme.CONSONANT)


def _shape_of(segments: list[_Segment], i: int) -> Shape:
    viseme = _viseme_of(segments, i)
    if viseme is None:
        return _PAUSE_SHAPE
    shape = SHAPES[viseme]
    if segments[i].phone in _TRANSPARENT:
        shape = Shape(shape.open * 0.7, shape.width * 0.7, shape.teeth, shape.tongue)
    return shape


def _blend_short(shapes: list[Shape], segments: list[_Segment]) -> list[Shape]:
    """Short phones are passed through, not reached: mix half of the neighbours in.

    Closures are exempt, since a p/b/m that does not close reads as a mistake however
    short it is.
    """
    out = list(shapes)
    for i, seg in enumerate(segments):
        if seg.end - seg.start >= _SHORT_PHONE_FRAMES or seg.phone in _BILABIAL:
            continue
        prev = shapes[i - 1] if i > 0 else shapes[i]
        nxt = shapes[i + 1] if i + 1 < len(shapes) else shapes[i]
        out[i] = Shape(
            *(0.5 * own + 0.25 * (p + q) for own, p, q in zip(shapes[i], prev, nxt, strict=True))
        )
    return out


def _target_curves(segments: list[_Segment], n: int) -> np.ndarray:
    """(n, 4) step curves of open/width/teeth/tongue targets, before any smoothing.

    No time shift: measured against espeak's phoneme events the smoothed result already
    leads the sound by 10-20 ms, which is where lips naturally are.
    """
    targets = np.zeros((n, len(Shape._fields)), np.float32)
    shapes = _blend_short([_shape_of(segments, i) for i in range(len(segments))], segments)
    for seg, shape in zip(segments, shapes, strict=True):
        targets[seg.start : seg.end] = shape
    return targets


def _gaussian_smooth(x: np.ndarray, sigma_s: float) -> np.ndarray:
    """Zero-phase smoothing: a causal filter would make the mouth lag the voice."""
    sigma = sigma_s / FRAME_S
    radius = int(np.ceil(3 * sigma))
    if radius < 1 or x.size == 0:
        return x.astype(np.float32)
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(x, radius, mode="edge")
    return np.convolve(padded, kernel, mode="valid").astype(np.float32)


def _running_max(x: np.ndarray, radius: int) -> np.ndarray:
    """Max over a centred window of 2 * radius + 1 frames."""
    padded = np.pad(x, radius, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1)
    return windows.max(axis=1)


def _open_gain(
    loudness: Loudness, active: np.ndarray, local_floor: float | np.ndarray = 0.0
) -> np.ndarray:
    """How far the jaw may open, from how loud the voice is in the F1/F2 band.

    Two effects, both multiplicative on the phone's target opening:

    * Local: the jaw follows sonority. Within a syllable the vowel is the loudest part and
      every consonant closure (stops, nasals) is a dip of 15-30 dB, so the mouth closes
      towards consonants even when the recogniser mislabels them, and opens fully only at
      the syllable's peak.
    * Global: quiet stretches (trailing off, asides) open less than the speaker's normal
      level, but never under `_OPEN_GAIN_FLOOR` of it.

    `local_floor` (per frame or one number) is the least the local effect leaves (0: a
    dip can close the jaw fully).
    """
    if not active.any():
        return np.ones(loudness.n_frames, np.float32)
    jaw = _gaussian_smooth(loudness.jaw_db, _GAIN_SMOOTH_S)
    peak = _gaussian_smooth(_running_max(jaw, _SYLLABLE_RADIUS_FRAMES), _PEAK_SMOOTH_S)
    local = np.clip((jaw - peak + _LOCAL_RANGE_DB) / (_LOCAL_RANGE_DB - _LOCAL_FULL_DB), 0, 1)
    local = local_floor + (1.0 - local_floor) * local
    reference = float(np.percentile(jaw[active], 90))
    overall = np.clip((jaw - reference + 20.0) / 16.0, 0.0, 1.0)
    overall = _OPEN_GAIN_FLOOR + (1.0 - _OPEN_GAIN_FLOOR) * overall
    return (local * overall).astype(np.float32)


def _vowel_floor(segments: list[_Segment], n: int) -> np.ndarray:
    """`_EXACT_LOCAL_FLOOR` on the frames of mid and open vowels, 0 elsewhere: consonants
    (the quiet frames around a closure above all) stay as closed as their loudness says."""
    floor = np.zeros(n, np.float32)
    for seg in segments:
        if PHONE_VISEMES.get(seg.phone) in _FLOORED_VISEMES:
            floor[seg.start : seg.end] = _EXACT_LOCAL_FLOOR
    return floor


def _closure_frames(seg: _Segment, jaw_db: np.ndarray) -> tuple[int, int]:
    """Where the lips are shut for one p/b/m, on the grid.

    Recognised boundaries are loose, so the closure is centred on the quietest frame near
    the phone (lips shut = least sound radiated), spans the phone minus its release, and
    lasts at least `_CLOSURE_MIN_FRAMES` so it shows on video.
    """
    n = jaw_db.shape[0]
    lo = seg.start
    hi = min(seg.end + 1, n)
    centre = lo + int(np.argmin(jaw_db[lo:hi])) if hi > lo else seg.start
    start = max(min(lo, centre - 1), 0)
    end = max(seg.end - 1, centre + 1)
    if end - start < _CLOSURE_MIN_FRAMES:
        start = max(centre - _CLOSURE_MIN_FRAMES // 2, 0)
        end = start + _CLOSURE_MIN_FRAMES
    return start, min(end, n)


def _exact_closure(seg: _Segment, n: int) -> tuple[tuple[int, int], tuple[float, float]]:
    """Where the lips are shut for one p/b/m of typed speech: the whole phone, on the grid
    and in seconds. The synthesizer knows when the lips seal (the phone's start) and part
    (its release), so nothing is re-centred or trimmed as for recognised phones; only a
    closure too short to show is widened about its middle."""
    first = math.ceil(seg.start_s / FRAME_S - 1e-9)  # grid frames inside the phone
    last = math.floor(seg.end_s / FRAME_S + 1e-9)
    if last - first + 1 >= _CLOSURE_MIN_FRAMES:
        return (max(first, 0), min(last + 1, n)), (seg.start_s, seg.end_s)
    start = max((first + last + 1 - _CLOSURE_MIN_FRAMES) // 2, 0)
    end = min(start + _CLOSURE_MIN_FRAMES, n)
    return (start, end), (start * FRAME_S, (end - 1) * FRAME_S)


def _closure_cap(closures: list[tuple[int, int]], n: int, *, exact: bool = False) -> np.ndarray:
    """1 where the lips are free, 0 on closures, with ramps: lips cannot snap open.

    With exact closures (typed speech) the ramps ease out as lips do: they part fastest
    right at the release and seal fastest just before contact. Recognised closures keep a
    linear ramp, a hedge on boundaries that may be a frame or two off.
    """
    cap = np.ones(n, np.float32)
    ramp = np.linspace(0.0, 1.0, _CLOSURE_RAMP_FRAMES + 1, dtype=np.float32)[1:]
    if exact:
        ramp = 1.0 - (1.0 - ramp) ** 2
    for start, end in closures:
        cap[start:end] = 0.0
        for j, value in enumerate(ramp):
            if end + j < n:
                cap[end + j] = min(cap[end + j], value)
            if start - 1 - j >= 0:
                cap[start - 1 - j] = min(cap[start - 1 - j], value)
    return cap


def _speech_gate(active: np.ndarray) -> np.ndarray:
    """0..1 multiplier that is exactly 0 away from speech and eases in and out of it."""
    widened = _dilate(active, 3).astype(np.float32)
    kernel = np.ones(7, np.float32) / 7.0
    return _convolve_same(widened, kernel) * _dilate(active, 6)


def mouth_curves(
    phones: list[Phone], loudness: Loudness, *, expressiveness: float = 1.0, exact: bool = False
) -> Curves:
    """Combine phones and loudness into smooth open/width/teeth/speaking curves.

    `exact`: the phones are the synthesizer's own (typed text), not recognised."""
    n = loudness.n_frames
    active = speech_activity(loudness)
    segments = [s for s in _segments(phones, n) if active[s.start : s.end].any()]
    targets = _target_curves(segments, n)
    targets[:, 1] = np.clip(targets[:, 1] * expressiveness, -1.0, 1.0)

    bilabials = [s for s in segments if s.phone in _BILABIAL]
    if exact:
        both = [_exact_closure(s, n) for s in bilabials]
        closures = [frames for frames, _ in both]
        closure_times = [seconds for _, seconds in both]
    else:
        closures = [_closure_frames(s, loudness.jaw_db) for s in bilabials]
        closure_times = [(s * FRAME_S, (e - 1) * FRAME_S) for s, e in closures]
    cap = _closure_cap(closures, n, exact=exact)
    gate = _speech_gate(active)
    open_ = _gaussian_smooth(targets[:, 0], _SMOOTH_SIGMA_S["open"])
    floor = _vowel_floor(segments, n) if exact else 0.0
    open_ = np.clip(open_ * _open_gain(loudness, active, floor) * expressiveness, 0.0, 1.0)
    # Exact zeros are reserved for lips pressed together (p/b/m) and rest; other
    # consonants at the bottom of a loudness dip keep a sliver of a gap.
    open_ = np.maximum(open_, _SPEECH_MIN_OPEN * (targets[:, 0] > 0)) * cap * gate
    width = _gaussian_smooth(targets[:, 1], _SMOOTH_SIGMA_S["width"]) * gate
    teeth = _gaussian_smooth(targets[:, 2], _SMOOTH_SIGMA_S["teeth"]) * cap * gate
    tongue = _gaussian_smooth(targets[:, 3], _SMOOTH_SIGMA_S["tongue"]) * cap * gate
    speaking = np.clip(_gaussian_smooth(active.astype(np.float32), _SPEAKING_SMOOTH_S), 0, 1)
    return Curves(
        open=np.clip(open_, 0.0, 1.0),
        width=np.clip(width, -1.0, 1.0),
        teeth=np.clip(teeth, 0.0, 1.0),
        speaking=speaking,
        closures=closure_times,
        tongue=np.clip(tongue, 0.0, 1.0),
    )
