"""Typed speech (espeak-ng's voices here): its phone timings are checked by an aligner
that never saw them, and the mouth keeps them exactly where lips are sealed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine import tts
from engine.lipsync.speech.track import mouth_track
from tests.support.forced_align import assert_timed_as_aligned

SPANISH = "Mi mamá compró un mapa bonito para el viaje a Panamá."


def test_espeaks_speech_can_be_aligned_independently(tmp_path: Path) -> None:
    """espeak-ng pauses in exact digital zeros, on which pocketsphinx found no path at all;
    the aligner now hears it as a recording (a quiet room's hiss) and places every phone
    espeak says it spoke within a frame or two of espeak's own times."""
    speech = tts.speak(SPANISH, tts.choose(language="es"))
    assert speech.voice.engine == tts.ESPEAK
    assert_timed_as_aligned(speech, tmp_path)


def test_typed_closures_stay_shut_until_the_synthesizers_release() -> None:
    """The synthesizer knows when the lips seal and part, so every frame inside a p/b/m is
    shut, up to the release (recognised phones hedge a frame early; typed ones need not),
    and the lips are apart again within 40 ms of it."""
    speech = tts.speak(SPANISH, tts.choose(language="es"))
    fps = 100.0
    track = mouth_track(speech.samples, speech.sample_rate, fps, phones=speech.phones)
    times = np.arange(track.n_frames) / fps
    bilabials = [(a, b) for name, a, b in speech.phones if name in {"P", "B", "M"}]
    assert len(bilabials) >= 6
    reopened = 0
    for start, end in bilabials:
        inside = (times >= start - 1e-9) & (times <= end + 1e-9)
        assert inside.any() and track.open[inside].max() == 0.0, (start, end)
        after = (times > end) & (times <= end + 0.04)
        reopened += bool(track.open[after].max() > 0.05)
    assert reopened >= len(bilabials) - 2  # a p/b/m may run straight into another closure
