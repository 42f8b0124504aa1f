"""Tiny media files made in code for the media tests, so no binary fixtures are committed.

Everything is encoded with PyAV (or cv2 for still images) into the test's tmp_path, and
kept to a few dozen pixels and a second or two so the whole suite runs in seconds.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def tone(
    seconds: float, rate: int, *, freq: float = 440.0, channels: int = 1, amp: float = 0.5
) -> np.ndarray:
    """A sine shaped (n, channels) float32; channel c is at freq * (c + 1) to tell them apart."""
    t = np.arange(round(seconds * rate)) / rate
    cols = [amp * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]
    return np.stack(cols, axis=1).astype(np.float32)


_AUDIO_FORMATS = {
    # suffix: (container format, encoder)
    ".wav": ("wav", "pcm_s16le"),
    ".mp3": ("mp3", "libmp3lame"),
    ".ogg": ("ogg", "libopus"),
    ".opus": ("opus", "libopus"),
    ".oga": ("ogg", "vorbis"),  # FFmpeg's own Vorbis encoder (no libvorbis in this build)
    ".m4a": ("mp4", "aac"),
    ".aac": ("adts", "aac"),
    ".flac": ("flac", "flac"),
}


def write_audio(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Encode (n, channels) float samples into the format the file suffix names."""
    container_format, codec = _AUDIO_FORMATS[path.suffix]
    layout = "mono" if samples.shape[1] == 1 else "stereo"
    with av.open(str(path), "w", format=container_format) as out:
        codec_rate = 48000 if codec == "libopus" else rate
        stream = out.add_stream(codec, rate=codec_rate, layout=layout)
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1),
            format="flt",
            layout=layout,
        )
        frame.sample_rate = rate
        frame.pts = 0
        frame.time_base = Fraction(1, rate)
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def write_mp3_with_cover(path: Path, samples: np.ndarray, rate: int) -> Path:
    """An MP3 carrying album art, which FFmpeg shows as a one-picture video stream."""
    ok, jpeg = cv2.imencode(".jpg", np.full((32, 32, 3), 90, np.uint8))
    assert ok
    with av.open(str(path), "w", format="mp3") as out:
        audio = out.add_stream("libmp3lame", rate=rate, layout="mono")
        cover = out.add_stream("mjpeg")
        cover.width, cover.height, cover.pix_fmt = 32, 32, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        packet = av.Packet(jpeg.tobytes())
        packet.stream, packet.pts, packet.dts = cover, 0, 0
        out.mux(packet)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


def gray_frame(width: int, height: int, level: int) -> np.ndarray:
    return np.full((height, width, 3), level, np.uint8)


def level_of(frame: np.ndarray) -> int:
    """The grey level a (lossily encoded) flat frame was made with."""
    return round(float(frame.mean()))


def marker_frame(width: int, height: int) -> np.ndarray:
    """Grey picture with a red block in the top-left quarter: shows rotation and mirroring."""
    img = np.full((height, width, 3), 128, np.uint8)
    img[: height // 2, : width // 2] = (255, 0, 0)
    return img


def red_corner(img: np.ndarray) -> str:
    """Which corner (tl, tr, bl, br) holds the red block of a `marker_frame`."""
    h, w = img.shape[:2]
    quads = {
        "tl": img[: h // 2, : w // 2],
        "tr": img[: h // 2, w // 2 :],
        "bl": img[h // 2 :, : w // 2],
        "br": img[h // 2 :, w // 2 :],
    }
    redness = {k: float(q[..., 0].mean()) - float(q[..., 2].mean()) for k, q in quads.items()}
    return max(redness, key=lambda k: redness[k])


def write_video(
    path: Path,
    frames: Sequence[np.ndarray],
    *,
    fps: int = 10,
    codec: str = "libx264",
    pts_ms: Sequence[int] | None = None,
    rotation_ccw: int | None = None,
    audio: np.ndarray | None = None,
    audio_rate: int = 48000,
) -> Path:
    """Encode frames; `pts_ms` gives explicit (variable) timestamps in milliseconds.

    `rotation_ccw` writes a display matrix the way phones do; the value is counter-clockwise
    as in PyAV's `set_display_rotation`.
    """
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec.startswith("libvpx"):
            stream.options = {"deadline": "realtime", "cpu-used": "8"}
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation_ccw is not None:
            stream.set_display_rotation(rotation_ccw)
        audio_stream = None
        if audio is not None:
            layout = "mono" if audio.shape[1] == 1 else "stereo"
            audio_stream = out.add_stream("aac", rate=audio_rate, layout=layout)
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if audio_stream is not None and audio is not None:
            samples = np.ascontiguousarray(audio, dtype=np.float32).reshape(1, -1)
            aframe = av.AudioFrame.from_ndarray(
                samples, format="flt", layout=audio_stream.layout.name
            )
            aframe.sample_rate, aframe.pts = audio_rate, 0
            aframe.time_base = Fraction(1, audio_rate)
            out.mux(audio_stream.encode(aframe))
            out.mux(audio_stream.encode(None))
    return path


# --- still images with EXIF orientation ---------------------------------------------------


def exif_tiff(orientation: int, *, big_endian: bool = True) -> bytes:
    """A minimal EXIF (TIFF) block whose IFD0 holds only the orientation tag."""
    order = ">" if big_endian else "<"
    header = (b"MM" if big_endian else b"II") + struct.pack(order + "HI", 42, 8)
    entry = struct.pack(order + "HHIH2x", 0x0112, 3, 1, orientation)
    return header + struct.pack(order + "H", 1) + entry + struct.pack(order + "I", 0)


def stored_for_display(display: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores so that `orientation` displays them as `display`."""
    inverse = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, 1),  # stored = display turned 90 degrees anticlockwise
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, -1),
    }[orientation]
    return np.ascontiguousarray(inverse(display))


def write_jpeg(path: Path, rgb: np.ndarray, *, orientation: int | None = None) -> Path:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
    )
    assert ok
    data = buf.tobytes()
    if orientation is not None:
        body = b"Exif\x00\x00" + exif_tiff(orientation)
        app1 = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
        data = data[:2] + app1 + data[2:]
    path.write_bytes(data)
    return path


def write_png(path: Path, pixels: np.ndarray, *, orientation: int | None = None) -> Path:
    """PNG via cv2 (RGB, RGBA or grey input), with an eXIf chunk spliced in if asked."""
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    elif pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(".png", pixels)
    assert ok
    data = buf.tobytes()
    if orientation is not None:
        ihdr_end = 8 + 8 + 13 + 4
        data = data[:ihdr_end] + png_chunk(b"eXIf", exif_tiff(orientation)) + data[ihdr_end:]
    path.write_bytes(data)
    return path


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_palette_png(path: Path, indices: np.ndarray, palette_rgba: np.ndarray) -> Path:
    """An 8-bit palette PNG with a tRNS chunk, which cv2 cannot write."""
    height, width = indices.shape
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    raw = b"".join(b"\x00" + row.astype(np.uint8).tobytes() for row in indices)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    data += png_chunk(b"PLTE", palette_rgba[:, :3].astype(np.uint8).tobytes())
    data += png_chunk(b"tRNS", palette_rgba[:, 3].astype(np.uint8).tobytes())
    data += png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def write_webp(path: Path, pixels: np.ndarray, *, orientation: int | None = None) -> Path:
    """Lossless WebP via cv2; with an orientation it is rewrapped as extended (VP8X) WebP."""
    if pixels.shape[2] == 4:
        bgr = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA)
    else:
        bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".webp", bgr, [cv2.IMWRITE_WEBP_QUALITY, 101])
    assert ok
    data = buf.tobytes()
    if orientation is not None:
        data = _webp_with_exif(data, pixels.shape[1], pixels.shape[0], exif_tiff(orientation))
    path.write_bytes(data)
    return path


def _webp_with_exif(simple: bytes, width: int, height: int, tiff: bytes) -> bytes:
    chunks = simple[12:]  # drop RIFF header; what is left is the image chunk(s)
    if chunks[:4] == b"VP8X":
        raise NotImplementedError("already extended")
    flags = 0x08 | 0x10  # EXIF present, alpha (harmless if there is none)
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([flags, 0, 0, 0])
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    exif = b"EXIF" + struct.pack("<I", len(tiff)) + tiff + (b"\x00" if len(tiff) % 2 else b"")
    body = b"WEBP" + vp8x + chunks + exif
    return b"RIFF" + struct.pack("<I", len(body)) + body
