"""Any audio (or the sound track of any video) in, float32 mono at the rate the model wants out.

FFmpeg's resampler does the format, channel and rate conversion in C as frames are
decoded, so a long file never exists in memory at its original rate and layout.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from engine.errors import MediaError
from engine.media.probe import decode_stream, main_audio_stream, open_input, own_stream_duration

# Container durations can be estimates (MP3 without a Xing header is guessed from the
# bitrate), so the up-front length check allows some slack; decoding enforces the exact limit.
_DECLARED_DURATION_SLACK = 1.05
_RESAMPLE_CHUNK = 1 << 16
# FFmpeg mixes stereo to mono at -3 dB per channel without normalising for float output,
# so a loud voice recorded identically on both channels would come out ~1.4x louder and
# clip. Capping the mixing matrix at unity gain gives a plain average instead.
_DOWNMIX_OPTIONS = {"rematrix_maxval": "1.0"}


def load_audio(
    path: str | Path, *, sample_rate: int = 16000, max_seconds: float | None = 600.0
) -> np.ndarray:
    """Decode the first audio stream to float32 mono in [-1, 1] at `sample_rate`.

    Samples start at the stream's first decoded sample; a later stream start in a video
    (usually a few milliseconds) is not padded.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    with open_input(path) as container:
        stream = main_audio_stream(container)
        if stream is None:
            raise MediaError("The file has no sound. Please send a file with a voice recording.")
        _check_declared_length(container, stream, max_seconds)
        limit = None if max_seconds is None else int(max_seconds * sample_rate)
        chunks: list[np.ndarray] = []
        total = 0
        for chunk in _mono_chunks(container, stream, sample_rate):
            chunks.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:
                raise MediaError(_too_long(max_seconds))
    if total == 0:
        raise MediaError("The sound in the file could not be decoded: it is damaged or empty.")
    samples = np.concatenate(chunks)
    return np.clip(samples, -1.0, 1.0, out=samples)


def measure_audio_seconds(path: str | Path, *, max_seconds: float) -> float:
    """How long the first audio stream really plays, by decoding it (the length we price on).

    Containers state whatever their writer (or an attacker) put in them: a Matroska tag or
    an MP4 `mvhd` can say 4 s over an hour of sound. Decoding is the only honest measure,
    and audio decodes at hundreds of times real time. It stops as soon as the sound passes
    `max_seconds`, so an oversized file costs at most that much decoding, then is refused.
    """
    seconds = 0.0
    with open_input(path) as container:
        stream = main_audio_stream(container)
        if stream is None:
            raise MediaError("The file has no sound. Please send a file with a voice recording.")
        for frame in decode_stream(container, stream):
            if frame.sample_rate:
                seconds += frame.samples / frame.sample_rate
            if seconds > max_seconds:
                break
    return seconds


def _check_declared_length(
    container: av.container.InputContainer, stream: av.AudioStream, max_seconds: float | None
) -> None:
    if max_seconds is None:
        return
    declared = own_stream_duration(stream)
    if declared is None and container.duration:
        declared = container.duration / av.time_base
    if declared is None:
        return  # unknown: the decode loop enforces the limit
    if declared > max_seconds * _DECLARED_DURATION_SLACK + 1.0:
        raise MediaError(_too_long(max_seconds))


def _too_long(max_seconds: float | None) -> str:
    return f"The audio is too long; the limit is {max_seconds:g} seconds."


def _mono_chunks(
    container: av.container.InputContainer, stream: av.AudioStream, sample_rate: int
) -> Iterator[np.ndarray]:
    """Yield resampled mono float32 chunks, rebuilding the resampler if the input changes.

    Some broadcast AAC and concatenated recordings switch rate or channel count mid-stream;
    PyAV's resampler refuses such frames, so we drain it and start a fresh one.
    """
    resampler: av.AudioResampler | None = None
    signature: tuple[str, str, int] | None = None
    try:
        for frame in decode_stream(container, stream):
            current = (frame.format.name, frame.layout.name, frame.sample_rate)
            if resampler is None or current != signature:
                if resampler is not None:
                    yield from _to_arrays(resampler.resample(None))
                resampler = av.AudioResampler(
                    format="flt", layout="mono", rate=sample_rate, options=_DOWNMIX_OPTIONS
                )
                signature = current
            yield from _to_arrays(resampler.resample(frame))
        if resampler is not None:
            yield from _to_arrays(resampler.resample(None))
    except av.FFmpegError as exc:
        # A damaged header can decode to frames with an impossible rate or layout, which
        # only the resampler notices.
        raise MediaError("The sound in the file is damaged and could not be converted.") from exc


def _to_arrays(frames: list[av.AudioFrame]) -> Iterator[np.ndarray]:
    for frame in frames:
        yield frame.to_ndarray().reshape(-1)


def resample_audio(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Change the sample rate of float audio shaped (n,) or (n, channels) with FFmpeg's swr.

    Used to bring model-rate audio (16 kHz) up to a rate every player handles in AAC. Keeps
    the shape convention of the input and returns float32.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim not in (1, 2) or (audio.ndim == 2 and audio.shape[1] not in (1, 2)):
        raise ValueError(f"audio must be shaped (n,) or (n, 1|2), got {audio.shape}")
    if from_rate == to_rate or len(audio) == 0:
        return audio.copy()
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    layout = "mono" if channels == 1 else "stereo"
    resampler = av.AudioResampler(format="flt", layout=layout, rate=to_rate)
    out: list[np.ndarray] = []
    for start in range(0, len(audio), _RESAMPLE_CHUNK):
        part = np.ascontiguousarray(audio[start : start + _RESAMPLE_CHUNK]).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(part, format="flt", layout=layout)
        frame.sample_rate = from_rate
        out.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    out.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    flat = np.concatenate(out) if out else np.zeros(0, np.float32)
    return flat if audio.ndim == 1 else flat.reshape(-1, channels)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> None:
    """Float mono samples (-1..1) as a 16-bit PCM WAV: what synthesized speech is kept as."""
    pcm = np.clip(np.round(np.asarray(samples, np.float32) * 32767.0), -32768, 32767)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.astype("<i2").tobytes())
