"""Still images in, one upright opaque RGB array out, whatever the file looked like.

The lipsync pipeline only understands HxWx3 uint8 RGB with the face the right way up, so
every oddity of real uploads is normalised here once: EXIF orientation from phones,
grayscale and palette PNGs, 16-bit PNGs, and transparency.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from engine.errors import MediaError
from engine.media.probe import (
    EXIF_ORIENTATIONS,
    decode_stream,
    exif_orientation,
    frame_rotation_cw,
    main_video_stream,
    open_input,
)

# Transparent pixels are painted this colour. Cut-out portraits and stickers are mostly
# transparent, and what lies under alpha=0 is arbitrary (often black), which would give a
# dark, harsh backdrop. A light neutral grey reads as a plain studio wall: it has no colour
# cast for the encoder to smear, keeps contrast with dark hair (which pure black would
# swallow) and does not make the face look underexposed (as pure white would).
BACKGROUND_GREY = 224

_ROTATE_CODES = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}


def load_image(path: str | Path, *, max_pixels: int = 40_000_000) -> np.ndarray:
    """Decode the first picture of an image (or video) file as upright HxWx3 uint8 RGB.

    `max_pixels` guards memory against decompression bombs: it is checked from the header
    before decoding and also handed (with headroom) to FFmpeg's decoder, which then refuses
    to allocate for a file whose header lies about its size.
    """
    with open_input(path) as container:
        stream = main_video_stream(container)
        if stream is None:
            raise MediaError("The file contains no picture.")
        _check_pixels(stream.codec_context.width, stream.codec_context.height, max_pixels)
        # The decoder's own check counts padded/aligned buffers, so give it headroom; the
        # exact limit is enforced from the header above and on the decoded frame below.
        stream.codec_context.options = {"max_pixels": str(2 * max_pixels + 65536)}
        frame = _first_picture(container, stream, max_pixels)
        try:
            rgb = to_rgb(frame)
        except av.FFmpegError as exc:
            raise MediaError("The image is damaged and could not be converted.") from exc
        orientation = exif_orientation(path)
    if orientation is not None:
        mirror, rotation = EXIF_ORIENTATIONS[orientation]
    else:
        mirror, rotation = False, frame_rotation_cw(frame)
    return orient(rgb, rotation, mirror=mirror)


def _first_picture(
    container: av.container.InputContainer, stream: av.VideoStream, max_pixels: int
) -> av.VideoFrame:
    try:
        frame = next(iter(decode_stream(container, stream)), None)
    except MediaError:
        frame = None
    if frame is None:
        raise MediaError(
            "The image could not be decoded: it is damaged, in an unsupported format, "
            f"or larger than {max_pixels / 1e6:g} megapixels."
        )
    _check_pixels(frame.width, frame.height, max_pixels)
    return frame


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise MediaError(
            f"The image is too large ({width}x{height}); the limit is "
            f"{max_pixels / 1e6:g} megapixels. Please send a smaller picture."
        )


def to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """Convert any decoded picture to opaque RGB, compositing transparency over grey."""
    if not _may_have_alpha(frame.format):
        return frame.to_ndarray(format="rgb24")
    rgba = frame.to_ndarray(format="rgba")
    alpha = rgba[..., 3:]
    if alpha.min() == 255:
        return np.ascontiguousarray(rgba[..., :3])
    a = alpha.astype(np.uint16)
    blended = rgba[..., :3] * a + BACKGROUND_GREY * (255 - a) + 127
    return (blended // 255).astype(np.uint8)


def _may_have_alpha(fmt: av.VideoFormat) -> bool:
    return fmt.has_palette or any(c.is_alpha for c in fmt.components)


def orient(rgb: np.ndarray, rotation: int, *, mirror: bool = False) -> np.ndarray:
    """Mirror left-right (if asked), then rotate clockwise by a multiple of 90 degrees.

    This is the order EXIF orientations are defined in. The result is always C-contiguous:
    PyAV hands out views that skip its row padding, which cv2 and the encoder reject or copy.
    """
    if mirror:
        rgb = cv2.flip(rgb, 1)
    code = _ROTATE_CODES.get(rotation % 360)
    return cv2.rotate(rgb, code) if code is not None else np.ascontiguousarray(rgb)
