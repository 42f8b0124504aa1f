"""Typed speech (espeak-ng's voices here): its phone timings are checked by an aligner
that never saw them, the job speaks it with those timings kept, and the mouth keeps them
exactly where lips are sealed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine import tts
from engine.handlers import JobContext, JobSpec
from engine.job_request import SpokenText
from engine.lipsync.speech.track import mouth_track
from engine.media import probe
from engine.speech_inputs import plan_speech
from engine.worker.child import _with_speech
from tests.conftest import make_settings
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


def test_a_planned_text_is_spoken_with_its_phones_before_the_render(tmp_path: Path) -> None:
    """At submit a text is only planned (bounded from its reading); the render process
    speaks it first, with the synthesizer's phones beside the voice (so the mouth is timed
    on them, not recognised), and lifts the held length: the hold caps the charge."""
    settings = make_settings(tmp_path / "data")
    planned = plan_speech({"audio": SpokenText(SPANISH, language="es")}, tmp_path / "in", settings)
    bound = planned["audio"].info.duration
    spec = JobSpec(
        id="j",
        model="lipsync-image",
        params={},
        inputs={"audio": planned["audio"].path},
        work_dir=tmp_path / "work",
        output_path=tmp_path / "work" / "out.mp4",
        settings=settings,
        max_output_seconds=bound,
    )
    stages: list[tuple[str, float]] = []
    spoken = _with_speech(spec, JobContext(report=lambda s, f: stages.append((s, f))))
    voice = spoken.inputs["audio"]
    assert voice.parent == spec.work_dir and voice.suffix == ".wav"
    phones = tts.load_phones(voice)
    assert phones and sum(name in {"P", "B", "M"} for name, _, _ in phones) >= 6
    assert 0 < probe(voice).duration <= bound and spoken.max_output_seconds is None
    assert stages[0] == ("speaking", 0.0)
