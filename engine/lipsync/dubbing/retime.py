"""Which source frame each output frame shows, and how to play source frames in that order.

A dubbed video lasts as long as its new audio. A longer video is simply trimmed; a shorter
one is extended by `sync_mode`:

* ``bounce`` (default): forward, then backward, then forward again, so there is never a
  jump cut (0 1 2 3 2 1 0 1 ...);
* ``loop``: from the start again (0 1 2 3 0 1 ...);
* ``freeze``: the last frame is held.

Playing frames in that order must not hold the video in memory. Forward runs (trim, loop,
freeze) just re-decode the source in order. Bounce needs the frames backwards, which
compressed video cannot do cheaply, so pass 1 writes the frames it decodes (already at the
output size and rate) into a lossless intermediate in the job's work folder: RGB H.264 at
qp 0 (libx264rgb, so a frame reads back bit-exact), with a keyframe every `GOP` frames.
A backward run then seeks to the keyframe before the frame wanted, decodes one GOP forward
and plays it reversed, so memory holds at most one GOP. On disk it costs roughly
150-400 KB per 480p frame (4-10 MB per second of source), is only written in bounce mode
when the source may be shorter than the audio, and is deleted when the job ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.container
import numpy as np

from engine.errors import MediaError
from engine.vocabulary import SyncMode

# Frames per keyframe interval of the intermediate: the most frames a backward run holds.
GOP = 12


def source_indices(n_out: int, n_src: int, mode: str) -> np.ndarray:
    """Source frame shown by each of `n_out` output frames, given `n_src` source frames.

    A source at least as long as the output is trimmed (frame i shows frame i) whatever the
    mode; otherwise the mode says how the source is extended.
    """
    if mode not in tuple(SyncMode):
        raise ValueError(f"unknown sync mode {mode!r}")
    if n_out < 0 or n_src < 1:
        raise ValueError(f"bad frame counts: {n_out} output, {n_src} source")
    out = np.arange(n_out, dtype=np.int64)
    if n_out <= n_src:
        return out
    if mode == SyncMode.LOOP:
        return out % n_src
    if mode == SyncMode.FREEZE or n_src == 1:
        return np.minimum(out, n_src - 1)
    period = 2 * (n_src - 1)
    phase = out % period
    return np.where(phase < n_src, phase, period - phase)


def plays_backwards(indices: np.ndarray) -> bool:
    """Whether some output frame shows a source frame right before the one shown before it
    (a backward step, which sequential decoding cannot produce; a loop's jump to 0 can)."""
    return bool(np.any(np.diff(indices) == -1))


def runs(indices: np.ndarray) -> list[tuple[int, int, int]]:
    """Split an index sequence into (first, step, count) runs of step +1, -1 or 0.

    Repeats (a frozen frame) are runs of step 0; any other jump starts a new run.
    """
    result: list[tuple[int, int, int]] = []
    values = [int(v) for v in np.asarray(indices).tolist()]
    i = 0
    while i < len(values):
        step = values[i + 1] - values[i] if i + 1 < len(values) else 0
        if step not in (-1, 0, 1):
            step = 0
        j = i + 1
        while j < len(values) and values[j] - values[j - 1] == step:
            j += 1
        result.append((values[i], step, j - i))
        i = j
    return result


def replay(
    open_source: Callable[[], Iterator[np.ndarray]], indices: np.ndarray
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (source index, frame) for every index, re-decoding the source in order.

    For sequences that never step backwards (trim, loop, freeze). The source is re-opened
    whenever an index lies before the one decoded last (a loop's restart); repeated
    indices repeat the held frame, as a copy, so callers may draw on what they get.
    """
    frames: Iterator[np.ndarray] | None = None
    position = -1
    held: np.ndarray | None = None
    for wanted in indices.tolist():
        if held is not None and wanted == position:
            yield wanted, held.copy()
            continue
        if frames is None or wanted < position:
            _close(frames)
            frames, position = open_source(), -1
        while position < wanted:
            try:
                held = next(frames)
            except StopIteration:
                raise MediaError("the video ended earlier on the second reading") from None
            position += 1
        assert held is not None
        yield wanted, held.copy()
    _close(frames)


def _close(frames: Iterator[np.ndarray] | None) -> None:
    """Finish a half-read frame generator now, so its file is closed before reopening."""
    close = getattr(frames, "close", None)
    if close is not None:
        close()


class LosslessCache:
    """The source frames of pass 1 kept on disk, bit-exact, for playing them backwards."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        self.path = Path(path)
        self.size = size
        self.fps = fps
        self.count = 0
        self._rate = Fraction(fps).limit_denominator(1001)
        self._out: av.container.OutputContainer | None = av.open(str(self.path), "w")
        stream = self._out.add_stream("libx264rgb", rate=self._rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "rgb24"
        # qp 0 is lossless; no B-frames and a fixed GOP so a seek lands on a known frame.
        stream.options = {
            "qp": "0",
            "preset": "ultrafast",
            "g": str(GOP),
            "bf": "0",
            "sc_threshold": "0",
        }
        self._stream = stream

    def write(self, frame: np.ndarray) -> None:
        if self._out is None:
            raise ValueError("write() on a closed LosslessCache")
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        picture.pts = self.count
        picture.time_base = 1 / self._rate
        self._out.mux(self._stream.encode(picture))
        self.count += 1

    def close(self) -> None:
        if self._out is not None:
            if self.count:
                self._out.mux(self._stream.encode(None))
            self._out.close()
            self._out = None

    def __enter__(self) -> LosslessCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def play(self, indices: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (index, frame) for every index, in any order, holding at most one GOP."""
        self.close()
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            reader = _GopReader(container, stream, self.fps)
            for first, step, count in runs(indices):
                if step == 0:
                    frame = next(reader.forward(first, first))
                    for _ in range(count):
                        yield first, frame.copy()
                elif step > 0:
                    for offset, frame in enumerate(reader.forward(first, first + count - 1)):
                        yield first + offset, frame
                else:
                    yield from reader.backward(first, first - count + 1)

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class _GopReader:
    """Decodes frame ranges of the intermediate forwards or backwards by seeking."""

    def __init__(
        self, container: av.container.InputContainer, stream: av.VideoStream, fps: float
    ) -> None:
        self.container = container
        self.stream = stream
        self.fps = fps

    def _index(self, frame: av.VideoFrame) -> int:
        return round(float(frame.pts * frame.time_base) * self.fps)

    def forward(self, first: int, last: int) -> Iterator[np.ndarray]:
        """Frames first..last inclusive, in order."""
        assert self.stream.time_base is not None
        self.container.seek(
            int(first / self.fps / self.stream.time_base), stream=self.stream, backward=True
        )
        for frame in self.container.decode(self.stream):
            index = self._index(frame)
            if index < first:
                continue
            yield frame.to_ndarray(format="rgb24")
            if index >= last:
                return
        raise MediaError("the intermediate copy of the video ended early")

    def backward(self, first: int, last: int) -> Iterator[tuple[int, np.ndarray]]:
        """Frames first, first-1, ..., last (first >= last), one GOP in memory at a time."""
        top = first
        while top >= last:
            start = max(last, top - top % GOP)
            chunk = list(self.forward(start, top))
            for offset in range(len(chunk) - 1, -1, -1):
                yield start + offset, chunk[offset]
            top = start - 1
