"""What is in a media file, found out cheaply, plus the safe way every media module opens one.

Uploaded files are hostile until proven otherwise, so `open_input` is the only door to
PyAV in this package: it admits only the demuxers we support (an HLS playlist or a concat
list could otherwise make FFmpeg read other local files), only the `file` protocol, and it
turns every FFmpeg failure into a `MediaError` with a message a user can act on.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import av
import av.container
import av.stream

from engine.errors import MediaError

log = logging.getLogger(__name__)

# Demuxers we accept. FFmpeg checks the probed demuxer against this list, so anything else
# (playlists, concat lists, image sequences, raw devices) is refused before it can open
# another file. Names are FFmpeg's; one demuxer often has several (mov,mp4,m4a,...).
ALLOWED_DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2",
    "matroska,webm",
    "avi",
    "mp3",
    "wav",
    "ogg",
    "flac",
    "aac",
    "jpeg_pipe",
    "png_pipe",
    "webp_pipe",
)
_IMAGE_DEMUXERS = frozenset({"jpeg_pipe", "png_pipe", "webp_pipe"})

# A damaged stream is decoded on past a few bad packets (phones and browsers do produce
# them), but a file that is mostly garbage is refused rather than half-decoded forever.
_MAX_CONSECUTIVE_DECODE_ERRORS = 25

_EXIF_ORIENTATION_TAG = 0x0112
# EXIF orientation 1..8 -> (mirror left-right first?, then rotate this many degrees clockwise).
EXIF_ORIENTATIONS: dict[int, tuple[bool, int]] = {
    1: (False, 0),
    2: (True, 0),
    3: (False, 180),
    4: (True, 180),
    5: (True, 270),
    6: (False, 90),
    7: (True, 90),
    8: (False, 270),
}


@dataclass(frozen=True)
class MediaInfo:
    """The facts callers need to pick a pipeline and check limits before decoding anything.

    `width`/`height` are what a viewer sees (rotation already applied), so callers can do
    aspect maths without knowing about display matrices or EXIF. `rotation` (clockwise
    degrees) and `mirror` (flip left-right *before* rotating; only EXIF orientations 2, 4, 5
    and 7 set it) say what the decoders in this package apply to raw frames for you.
    `has_video` is true only for a moving picture: a still image, even one stored as a
    one-frame video, is `kind="image"` with `has_video=False`.
    """

    kind: Literal["image", "audio", "video"]
    duration: float | None
    width: int | None
    height: int | None
    fps: float | None
    has_audio: bool
    has_video: bool
    rotation: int
    format_name: str
    mirror: bool = False


def check_file(path: str | Path, max_bytes: int | None = None) -> Path:
    """Refuse empty or oversized files before FFmpeg spends any effort on them.

    A missing file is *not* a `MediaError`: the doors store uploads before calling us, so a
    missing path is our bug and must surface as one (a plain `FileNotFoundError`).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such media file: {p}")
    size = p.stat().st_size
    if size == 0:
        raise MediaError("The file is empty.")
    if max_bytes is not None and size > max_bytes:
        raise MediaError(
            f"The file is too big ({_megabytes(size)}); the limit is {_megabytes(max_bytes)}."
        )
    return p


def _sniff_image(path: Path) -> str | None:
    """The image demuxer by magic bytes: FFmpeg's own JPEG probe refuses valid files whose
    JFIF header is followed by a comment segment (matplotlib's grace_hopper.jpg is one),
    and would then pick `image2`, which is not on the whitelist."""
    with path.open("rb") as handle:
        head = handle.read(12)
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg_pipe"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png_pipe"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp_pipe"
    return None


@contextmanager
def open_input(path: str | Path) -> Iterator[av.container.InputContainer]:
    """Open a user-supplied file for reading with the demuxer whitelist, always closing it."""
    p = check_file(path)
    options = {"format_whitelist": ",".join(ALLOWED_DEMUXERS), "protocol_whitelist": "file"}
    try:
        container = av.open(
            str(p), mode="r", format=_sniff_image(p), options=options, metadata_errors="replace"
        )
    except av.FFmpegError as exc:
        log.info("cannot open %s as media: %s", p, exc)
        raise MediaError(
            "The file could not be read as audio, video or an image: it is damaged or in a "
            "format we do not support."
        ) from exc
    try:
        yield container
    finally:
        container.close()


def decode_stream(
    container: av.container.InputContainer, stream: av.stream.Stream
) -> Iterator[av.AudioFrame | av.VideoFrame]:
    """Decode one stream, stepping over isolated bad packets and stopping at a bad tail.

    Truncated uploads are common (a phone upload cut short), and the readable part is
    still useful, so a demux error ends the stream instead of failing the job. Callers
    decide whether *nothing at all* decoded is an error, because only they know the
    message to give.
    """
    consecutive_errors = 0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as exc:
            log.info("stopping at unreadable data in %s: %s", container.name, exc)
            packet = None  # flush what the decoder holds, then stop
        try:
            frames = packet.decode() if packet is not None else stream.decode(None)
        except av.FFmpegError as exc:
            consecutive_errors += 1
            if consecutive_errors > _MAX_CONSECUTIVE_DECODE_ERRORS:
                raise MediaError("The file is damaged: too much of it cannot be decoded.") from exc
            continue
        consecutive_errors = 0
        yield from frames
        if packet is None:
            return


def probe(path: str | Path, *, max_bytes: int | None = None) -> MediaInfo:
    """Describe a media file, decoding at most its first picture."""
    check_file(path, max_bytes)
    with open_input(path) as container:
        video = main_video_stream(container)
        audio = main_audio_stream(container)
        if video is None and audio is None:
            raise MediaError("The file contains neither audio nor pictures that we can decode.")
        if video is None:
            assert audio is not None
            return _audio_info(container, audio)
        return _visual_info(path, container, video, has_audio=audio is not None)


def main_video_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    """The first decodable picture stream; cover art embedded in an MP3/M4A does not count."""
    for stream in container.streams.video:
        is_cover = stream.disposition & av.stream.Disposition.attached_pic
        if stream.codec_context is not None and not is_cover:
            return stream
    return None


def main_audio_stream(container: av.container.InputContainer) -> av.AudioStream | None:
    """The first audio stream FFmpeg has a decoder for (damaged headers can name none)."""
    return next((s for s in container.streams.audio if s.codec_context is not None), None)


def _audio_info(container: av.container.InputContainer, audio: av.AudioStream) -> MediaInfo:
    return sound_info(stream_duration(container, audio), container.format.name)


def sound_info(duration: float | None, format_name: str) -> MediaInfo:
    """A sound with no picture: all a caller knows is its length (and what holds it)."""
    return MediaInfo(
        kind="audio",
        duration=duration,
        width=None,
        height=None,
        fps=None,
        has_audio=True,
        has_video=False,
        rotation=0,
        format_name=format_name,
    )


def _visual_info(
    path: str | Path,
    container: av.container.InputContainer,
    video: av.VideoStream,
    *,
    has_audio: bool,
) -> MediaInfo:
    if container.format.name in _IMAGE_DEMUXERS and video.codec_context.width:
        # Still image: the header has the size and EXIF the orientation, so nothing is
        # decoded. That keeps probe cheap and safe on a 500-megapixel "decompression bomb";
        # load_image applies the pixel limit when it decodes.
        is_image = True
        width, height = video.codec_context.width, video.codec_context.height
        orientation = EXIF_ORIENTATIONS[exif_orientation(path) or 1]
    else:
        first, packets = _first_frame(container, video)
        if first is None:
            raise MediaError("The file has a picture stream but no picture could be decoded.")
        is_image = (video.frames or packets) <= 1
        width, height = first.width, first.height
        exif = exif_orientation(path)  # a still without a size in its header still has EXIF
        orientation = EXIF_ORIENTATIONS[exif] if exif else (False, frame_rotation_cw(first))
    mirror, rotation = orientation
    if rotation in (90, 270):
        width, height = height, width
    return MediaInfo(
        kind="image" if is_image else "video",
        duration=None if is_image else stream_duration(container, video),
        width=width,
        height=height,
        fps=None if is_image else _frame_rate(video),
        has_audio=has_audio,
        has_video=not is_image,
        rotation=rotation,
        format_name=container.format.name,
        mirror=mirror,
    )


def _first_frame(
    container: av.container.InputContainer, video: av.VideoStream
) -> tuple[av.VideoFrame | None, int]:
    """Decode the first picture and count packets up to two, enough to tell still from moving.

    The packet count matters for Matroska/WebM, whose headers carry no frame count.
    """
    first: av.VideoFrame | None = None
    packets = 0
    try:
        for packet in container.demux(video):
            if packet.size:
                packets += 1
            if first is None:
                first = next(iter(packet.decode()), None)
            if first is not None and packets >= 2:
                break
        if first is None:
            first = next(iter(video.decode(None)), None)
    except av.FFmpegError as exc:
        if first is None:
            raise MediaError("The picture in the file could not be decoded.") from exc
    return first, packets


def frame_rotation_cw(frame: av.VideoFrame) -> int:
    """Clockwise degrees a viewer turns this frame by, from its display matrix.

    FFmpeg reports the angle counter-clockwise in [-180, 180]; phones write multiples of 90
    and we snap anything else to the nearest quarter turn rather than shear the picture.
    """
    return (-round(frame.rotation / 90) * 90) % 360


def _frame_rate(video: av.VideoStream) -> float | None:
    rate = video.average_rate or video.guessed_rate
    return float(rate) if rate else None


def stream_duration(
    container: av.container.InputContainer, stream: av.stream.Stream
) -> float | None:
    """Best duration estimate: the stream header, else the container, else by reading packets.

    Browser recordings (MediaRecorder WebM) carry no duration at all, so the last resort
    demuxes the stream without decoding it, which is cheap even for long files.
    """
    own = own_stream_duration(stream)
    if own is not None:
        return own
    if container.duration:
        return container.duration / av.time_base
    return _duration_from_packets(container, stream)


def own_stream_duration(stream: av.stream.Stream) -> float | None:
    """The stream's length from its header, or from Matroska's per-track DURATION tag.

    Matroska has no per-stream duration field, and the container's duration covers the
    longest stream (often audio, longer by the encoder's priming), so the tag is better.
    """
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if not tag:
        return None
    try:
        hours, minutes, seconds = tag.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def _duration_from_packets(
    container: av.container.InputContainer, stream: av.stream.Stream
) -> float | None:
    start: int | None = None
    end: int | None = None
    try:
        container.seek(0)
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            start = packet.pts if start is None else min(start, packet.pts)
            packet_end = packet.pts + (packet.duration or 0)
            end = packet_end if end is None else max(end, packet_end)
    except av.FFmpegError as exc:
        log.info("duration scan stopped early in %s: %s", container.name, exc)
    if start is None or end is None or not stream.time_base:
        return None
    return float((end - start) * stream.time_base)


def exif_orientation(path: str | Path) -> int | None:
    """The EXIF orientation (1..8) of a JPEG, PNG or WebP file, or None when it has none.

    FFmpeg 8 does turn EXIF orientation into a display matrix, but PyAV only exposes that
    matrix's rotation angle (and its side-data list fails on the new EXIF entry), so a
    mirrored orientation such as 2 would read as a 180 degree turn. Reading the tag
    ourselves is a few dozen lines and exact.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:2] == b"\xff\xd8":
                tiff = _jpeg_exif(f)
            elif head[:8] == b"\x89PNG\r\n\x1a\n":
                tiff = _png_exif(f)
            elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
                tiff = _webp_exif(f)
            else:
                return None
    except (OSError, struct.error):
        return None
    return _tiff_orientation(tiff) if tiff else None


def _jpeg_exif(f: BinaryIO) -> bytes | None:
    f.seek(2)
    while True:
        marker = f.read(4)
        if len(marker) < 4 or marker[0] != 0xFF or marker[1] in (0xDA, 0xD9):
            return None  # start of scan or end: EXIF always comes before the pixels
        (length,) = struct.unpack(">H", marker[2:])
        body = f.read(length - 2)
        if marker[1] == 0xE1 and body.startswith(b"Exif\x00\x00"):
            return body[6:]


def _png_exif(f: BinaryIO) -> bytes | None:
    f.seek(8)
    while True:
        header = f.read(8)
        if len(header) < 8:
            return None
        length, kind = struct.unpack(">I4s", header)
        if kind == b"eXIf":
            return f.read(length)
        if kind == b"IEND":
            return None
        f.seek(length + 4, 1)  # skip data and CRC


def _webp_exif(f: BinaryIO) -> bytes | None:
    f.seek(12)
    while True:
        header = f.read(8)
        if len(header) < 8:
            return None
        kind, length = struct.unpack("<4sI", header)
        if kind == b"EXIF":
            data = f.read(length)
            return data[6:] if data.startswith(b"Exif\x00\x00") else data
        f.seek(length + (length & 1), 1)  # chunks are padded to an even size


def _tiff_orientation(tiff: bytes) -> int | None:
    """Find tag 0x0112 in IFD0 of a TIFF block (EXIF's container format)."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
    for i in range(count):
        entry = tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        if len(entry) < 12:
            return None
        tag, kind, _, value = struct.unpack(order + "HHI4s", entry)
        if tag == _EXIF_ORIENTATION_TAG and kind == 3:  # SHORT, stored in the value field
            (orientation,) = struct.unpack(order + "H", value[:2])
            return orientation if orientation in EXIF_ORIENTATIONS else None
    return None


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 10_000_000 else f"{math.ceil(n / 1e6)} MB"
