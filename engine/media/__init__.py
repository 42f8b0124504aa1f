"""Media layer: every byte of user audio, video and images goes in and out through here.

Decoding normalises uploads (rotation, EXIF, alpha, any sample rate or layout) so the
lipsync engine sees one format; encoding writes one MP4 flavour that plays everywhere.
Bad input raises `engine.errors.MediaError` with a message meant for the end user.
"""

from engine.media.audio import load_audio, measure_audio_seconds, resample_audio
from engine.media.encode import Mp4Writer, even_size, fit_resolution
from engine.media.image import load_image
from engine.media.probe import MediaInfo, probe
from engine.media.video import iter_video_frames

__all__ = [
    "MediaInfo",
    "Mp4Writer",
    "even_size",
    "fit_resolution",
    "iter_video_frames",
    "load_audio",
    "load_image",
    "measure_audio_seconds",
    "probe",
    "resample_audio",
]
