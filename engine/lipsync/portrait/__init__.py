"""Talking portraits: one photo and a mouth track in, video frames out (also two faces at
once, for duets). `jobs` registers the `lipsync-image` and `lipsync-image-multi` handlers."""
