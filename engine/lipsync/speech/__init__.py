"""Speech to mouth shapes: a voice recording in, per-video-frame mouth parameters out.

`phonemes` hears which speech sounds are spoken when, `visemes` turns them (with the
loudness) into smooth mouth curves, `track` samples those at the video's frame rate.
"""

from engine.lipsync.speech.track import MouthTrack, mouth_track

__all__ = ["MouthTrack", "mouth_track"]
