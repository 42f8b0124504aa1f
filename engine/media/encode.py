"""Write the final MP4: H.264 + AAC that plays in every browser, phone and messenger.

Choices that matter for "plays everywhere": 8-bit 4:2:0 H.264 (High profile), BT.709
limited-range colour *tagged* in the stream so players do not guess, the `moov` index at
the front (`+faststart`) so playback starts before the download ends, and audio that is
interleaved with the video as it is written rather than appended at the end, which some
players would otherwise have to seek across the whole file for.
"""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.container
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

from engine.media.audio import resample_audio

log = logging.getLogger(__name__)

# AAC at these rates is universally supported; anything else is converted to 48 kHz.
_AAC_RATES = (48000, 44100)
_AAC_FALLBACK_RATE = 48000
_AAC_BITRATE = {1: 96_000, 2: 128_000}
# Audio is handed to the encoder in pieces at least this long, to keep per-call overhead low
# while staying interleaved with the video to well under a second.
_AUDIO_PUSH_SAMPLES = 4096
_NTSC_RATES = (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001))
_BT709 = 1  # AVCOL_PRI_BT709 == AVCOL_TRC_BT709 == AVCOL_SPC_BT709


def even_size(width: int, height: int) -> tuple[int, int]:
    """Round down to even dimensions, which 4:2:0 chroma subsampling requires."""
    if width < 2 or height < 2:
        raise ValueError(f"size too small for video: {width}x{height}")
    return width - width % 2, height - height % 2


def fit_resolution(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Scale (up or down) so the shorter side is `short_side`, keeping aspect, even dims.

    Small sources are upscaled too: callers ask for a resolution because the output must
    have it (a preset like 480p), not as a ceiling. An odd `short_side` is rounded down to
    even; the long side is rounded to the nearest even number.
    """
    if width <= 0 or height <= 0 or short_side < 2:
        raise ValueError(f"bad sizes: {width}x{height} to short side {short_side}")
    short = short_side - short_side % 2
    long = max(2, math.floor(max(width, height) * short / min(width, height) / 2 + 0.5) * 2)
    return (long, short) if width >= height else (short, long)


def frame_rate(fps: float | Fraction) -> Fraction:
    """An exact rational rate, recognising NTSC rates given as floats (29.97 -> 30000/1001)."""
    if isinstance(fps, Fraction):
        rate = fps
    else:
        rate = next((r for r in _NTSC_RATES if abs(float(r) - fps) < 0.005), None)
        rate = rate or Fraction(fps).limit_denominator(1000)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return rate


class Mp4Writer:
    """Encode RGB frames (and optionally a whole audio track) into a web-friendly MP4.

    Use as a context manager: a clean exit finalises the file; an exception inside the
    block abandons it and deletes the partial file, which would not play anyway.
    Frame `n` is shown at `n / fps`; the audio starts at 0, so sample-accurate lipsync
    upstream stays lipsync in the file.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float | Fraction,
        *,
        audio: np.ndarray | None = None,
        audio_rate: int = 48000,
        crf: int = 23,
        preset: str = "veryfast",
        threads: int = 0,
    ) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"width and height must be positive and even, got {width}x{height}")
        self.path = Path(path)
        self.width = width
        self.height = height
        self.rate = frame_rate(fps)
        self.frames_written = 0
        self._audio, self._audio_rate = _prepare_audio(audio, audio_rate)
        self._audio_cursor = 0
        self._reformatter = VideoReformatter()
        self._closed = False
        self._container = av.open(
            str(self.path), mode="w", format="mp4", container_options={"movflags": "+faststart"}
        )
        try:
            self._video = self._add_video(crf, preset, threads)
            self._audio_stream = self._add_audio() if self._audio is not None else None
            self._container.start_encoding()
        except BaseException:
            self._abort()
            raise

    def _add_video(self, crf: int, preset: str, threads: int) -> av.VideoStream:
        stream = self._container.add_stream("libx264", rate=self.rate)
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset, "profile": "high"}
        cc = stream.codec_context
        cc.thread_count = threads
        cc.color_primaries = cc.color_trc = cc.colorspace = _BT709
        cc.color_range = int(ColorRange.MPEG)
        return stream

    def _add_audio(self) -> av.AudioStream:
        assert self._audio is not None
        channels = self._audio.shape[1]
        stream = self._container.add_stream(
            "aac", rate=self._audio_rate, layout="mono" if channels == 1 else "stereo"
        )
        stream.bit_rate = _AAC_BITRATE[channels]
        return stream

    def write(self, frame: np.ndarray) -> None:
        """Encode one RGB frame; audio up to the end of this frame is muxed alongside it."""
        if self._closed:
            raise ValueError("write() on a closed Mp4Writer")
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"expected uint8 frame of shape {(self.height, self.width, 3)}, "
                f"got {frame.dtype} {frame.shape}"
            )
        rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        # Convert ourselves (one reused scaler) so the matrix is BT.709 as tagged; the
        # encoder's implicit conversion would use BT.601 and shift skin tones.
        yuv = self._reformatter.reformat(
            rgb, format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
        )
        yuv.pts = self.frames_written
        self._mux(self._video.encode(yuv))
        self.frames_written += 1
        self._push_audio(self._samples_at(self.frames_written), minimum=_AUDIO_PUSH_SAMPLES)

    def close(self) -> None:
        """Flush both encoders, add any audio left after the last frame, and finish the file."""
        if self._closed:
            return
        if self.frames_written == 0:
            self._abort()
            raise ValueError("no frames were written; an MP4 without video is not produced")
        try:
            self._mux(self._video.encode(None))
            if self._audio is not None and self._audio_stream is not None:
                self._push_audio(len(self._audio), minimum=0)
                self._mux(self._audio_stream.encode(None))
            self._container.close()
        except BaseException:
            self._abort()
            raise
        self._closed = True

    def _samples_at(self, frames: int) -> int:
        return math.floor(frames * self._audio_rate / self.rate)

    def _push_audio(self, until: int, *, minimum: int) -> None:
        if self._audio is None or self._audio_stream is None:
            return
        until = min(until, len(self._audio))
        if until - self._audio_cursor < max(minimum, 1):
            return
        chunk = np.ascontiguousarray(self._audio[self._audio_cursor : until]).reshape(1, -1)
        layout = "mono" if self._audio.shape[1] == 1 else "stereo"
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout=layout)
        frame.sample_rate = self._audio_rate
        frame.time_base = Fraction(1, self._audio_rate)
        frame.pts = self._audio_cursor
        self._audio_cursor = until
        self._mux(self._audio_stream.encode(frame))

    def _mux(self, packets: list[av.Packet]) -> None:
        if packets:
            self._container.mux(packets)

    def _abort(self) -> None:
        """Release the file and remove it: a half-written MP4 has no index and cannot play."""
        self._closed = True
        try:
            self._container.close()
        except av.FFmpegError as exc:
            log.debug("ignoring error while abandoning %s: %s", self.path, exc)
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        elif not self._closed:
            self._abort()


def _prepare_audio(audio: np.ndarray | None, rate: int) -> tuple[np.ndarray | None, int]:
    """Validate, clip and, if needed, resample the soundtrack to an AAC-friendly rate.

    Returns samples shaped (n, channels) so the rest of the writer has one layout to handle.
    """
    if audio is None:
        return None, rate
    if rate <= 0:
        raise ValueError(f"audio_rate must be positive, got {rate}")
    samples = np.asarray(audio)
    if not np.issubdtype(samples.dtype, np.floating):
        raise ValueError(f"audio must be float samples in [-1, 1], got {samples.dtype}")
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2 or samples.shape[1] not in (1, 2):
        raise ValueError(f"audio must be shaped (n,) or (n, 1|2), got {np.shape(audio)}")
    if len(samples) == 0:
        raise ValueError("audio is empty; pass audio=None for a silent video")
    samples = np.clip(samples.astype(np.float32), -1.0, 1.0)
    if rate not in _AAC_RATES:
        samples = resample_audio(samples, rate, _AAC_FALLBACK_RATE)
        rate = _AAC_FALLBACK_RATE
    return samples, rate
