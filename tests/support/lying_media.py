"""Audio files whose container states a shorter length than the sound they hold.

What an attacker sends to be billed for 4 s and rendered for a minute: the Matroska
Segment `Duration` and the per-stream `DURATION` tag rewritten, or the MP4 `mvhd`, `tkhd`
and `mdhd` durations overwritten. FFmpeg's probe believes them; only decoding tells.
"""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np

_CHUNK = 1024


def write_encoded_tone(path: Path, seconds: float, codec: str, *, rate: int = 16000) -> Path:
    """A plain 220 Hz tone of `seconds`, encoded with `codec` into `path`'s container."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout="mono", rate=rate
        )
        for start in range(0, len(samples), _CHUNK):
            frame = av.AudioFrame.from_ndarray(
                samples[start : start + _CHUNK].reshape(1, -1), format="flt", layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = start
            for converted in resampler.resample(frame):
                container.mux(stream.encode(converted))
        container.mux(stream.encode(None))
    return path


def matroska_claiming(path: Path, seconds: float, claimed: float) -> Path:
    """A FLAC-in-Matroska tone of `seconds` whose header and tag say it lasts `claimed`."""
    write_encoded_tone(path, seconds, "flac")
    data = bytearray(path.read_bytes())
    at = data.index(b"\x44\x89")  # Segment Info / Duration, in TimestampScale units (ms)
    if data[at + 2] == 0x88:
        data[at + 3 : at + 11] = struct.pack(">d", claimed * 1000)
    else:
        data[at + 3 : at + 7] = struct.pack(">f", claimed * 1000)
    tag = data.index(b"\x44\x87", data.index(b"DURATION"))  # the TagString after the name
    size = data[tag + 2] & 0x7F
    text = f"{int(claimed // 3600):02d}:{int(claimed % 3600 // 60):02d}:{claimed % 60:012.9f}"
    data[tag + 3 : tag + 3 + size] = text.encode().ljust(size, b"\0")[:size]
    path.write_bytes(bytes(data))
    return path


def mp4_claiming(path: Path, seconds: float, claimed: float) -> Path:
    """An AAC-in-MP4 tone of `seconds` whose movie, track and media headers say `claimed`."""
    write_encoded_tone(path, seconds, "aac")
    data = bytearray(path.read_bytes())
    movie = data.index(b"mvhd")
    movie_scale = struct.unpack(">I", data[movie + 16 : movie + 20])[0]
    data[movie + 20 : movie + 24] = struct.pack(">I", int(claimed * movie_scale))
    track = data.index(b"tkhd")
    data[track + 24 : track + 28] = struct.pack(">I", int(claimed * movie_scale))
    media = data.index(b"mdhd")
    media_scale = struct.unpack(">I", data[media + 16 : media + 20])[0]
    data[media + 20 : media + 24] = struct.pack(">I", int(claimed * media_scale))
    for box in (movie, track, media):
        assert data[box + 4] == 0, "version-0 boxes (32-bit durations) expected"
    path.write_bytes(bytes(data))
    return path
