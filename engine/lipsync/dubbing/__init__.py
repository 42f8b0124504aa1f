"""Video dubbing: a video's speaker re-voiced, their lips following a new audio track.

`tracking` follows faces through the video, `atlas` keeps the speaker's real mouths and
chooses one per output frame, `blend` puts it into the frame, `retime` fits the video's
length to the audio's; `job` registers the `lipsync-video` handler that runs them.
"""
