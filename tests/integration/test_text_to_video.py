"""Text in, talking video out, through the real service: speech made here (neural voices for
English and Japanese, espeak-ng for the rest) with the synthesizer's own phoneme timings,
held on a bound counted from the text and charged on the speech, in five languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import pricing, tts
from engine.errors import InvalidInput
from engine.job_request import JobRequest, SpokenText
from engine.service import Service
from tests.conftest import make_settings
from tests.support.media import face_photo_path
from tests.support.speech import SENTENCES


def _portrait(speech: dict[str, SpokenText]) -> JobRequest:
    return JobRequest(
        model="lipsync-image", inputs={"image": str(face_photo_path())}, speech=speech
    )


@pytest.fixture
async def renderer(tmp_path: Path) -> Service:
    service = await Service.open(make_settings(tmp_path / "d", workers={"plugins": []}))
    await service.start_workers()
    yield service  # type: ignore[misc]
    await service.close()


@pytest.mark.slow
@pytest.mark.parametrize("language", sorted(SENTENCES))
async def test_a_typed_line_becomes_a_talking_portrait(renderer: Service, language: str) -> None:
    account = (await renderer.create_api_key("k", 1000)).key.account_id
    job = await renderer.submit(
        account,
        _portrait({"audio": SpokenText(SENTENCES[language], language=language)}),
        local_dirs=[face_photo_path().parent],
    )
    planned = renderer.storage.root / job.inputs["audio"]
    assert planned.name == "audio.speech.json", "the text is kept, to be spoken in the job"
    assert not list(planned.parent.glob("*.wav")), "nothing is spoken at submit"
    seconds = tts.speak(SENTENCES[language], tts.choose(language=language)).seconds
    assert seconds <= job.estimate_seconds <= 2.5 * seconds + 1.5  # held on a bound
    done = await renderer.wait(job.id, timeout=180)
    assert done.status == "completed", done.error
    assert done.output_seconds == pytest.approx(seconds, abs=0.1)  # espeak varies ~10 ms
    resolution = done.params["resolution"]
    charge = pricing.quote(done.output_seconds, resolution, renderer.settings.pricing)
    assert done.charged == charge.credits <= job.estimate, "charged on the speech it made"
    balance = (await renderer.get_account(account)).balance
    assert balance == 1000 - done.charged


@pytest.mark.parametrize(
    ("speech", "message"),
    [
        ({"audio": SpokenText("Hello", voice="espeak:xx-nowhere")}, "unknown voice"),
        ({"audio": SpokenText("Hello", language="xx")}, "no voice speaks 'xx'"),
        ({"audio": SpokenText("   ")}, "empty"),
        ({"audio": SpokenText("Hello", speed=5.0)}, "speed must be between"),
        ({"audio": SpokenText("Hi"), "image": SpokenText("Hi")}, "takes no text for 'image'"),
        ({"audio": SpokenText("a" * 3001)}, "at most 3000"),
    ],
)
async def test_bad_text_is_refused_before_anything_is_spoken_or_charged(
    service: Service, speech: dict[str, SpokenText], message: str
) -> None:
    account = (await service.create_api_key("k", 100)).key.account_id
    with pytest.raises(InvalidInput, match=message):
        await service.submit(account, _portrait(speech), local_dirs=[face_photo_path().parent])
    assert await service.list_jobs(account) == []
    assert (await service.get_account(account)).balance == 100


async def test_a_voice_is_either_a_file_or_a_text(service: Service, tone: Path) -> None:
    account = (await service.create_api_key("k", 100)).key.account_id
    request = JobRequest(
        model="lipsync-image",
        inputs={"image": str(face_photo_path()), "audio": str(tone)},
        speech={"audio": SpokenText("Hello there")},
    )
    with pytest.raises(InvalidInput, match="either a file or text"):
        await service.submit(account, request, local_dirs=[face_photo_path().parent, tone.parent])


async def test_speech_alone_is_charged_per_second_and_usable_as_a_voice(service: Service) -> None:
    account = (await service.create_api_key("k", 100)).key.account_id
    spoken = await service.synthesize(account, SpokenText("Hello there, how are you today?"))
    assert spoken.voice.id == "piper:en_US-joe-medium" and 1.0 < spoken.seconds < 4.0
    per_second = service.settings.tts.credits_per_second
    assert spoken.credits == per_second * max(1, -(-spoken.seconds // 1))
    assert (await service.get_account(account)).balance == 100 - spoken.credits
    estimate = await service.estimate(
        JobRequest(
            model="lipsync-image",
            inputs={"image": str(face_photo_path()), "audio": spoken.url},
        ),
        local_dirs=[face_photo_path().parent],
    )
    assert estimate.output_seconds == pytest.approx(spoken.seconds, abs=0.05)


def test_every_voice_in_the_catalogue_answers_to_its_own_id() -> None:
    voices = tts.catalogue()
    assert len(voices) > 50  # espeak-ng alone speaks 100+ languages
    for language in SENTENCES:
        assert tts.choose(language=language).language.startswith(language)
    assert all(tts.choose(voice=voice.id) == voice for voice in voices)


async def test_too_long_speech_fails_its_job_without_speaking_all_of_it(tmp_path: Path) -> None:
    """Kokoro speaks a few times real time on a CPU: submitting holds the job at the
    limit's price without speaking, and the job stops reading at the first piece past the
    limit, not minutes later, fails with the limit, and is refunded."""
    story = "ばあばは毎晩、帽子をかぶって散歩します。" * 12  # about 40 s of speech
    settings = make_settings(
        tmp_path / "d", limits={"max_media_seconds": 3}, workers={"plugins": []}
    )
    service = await Service.open(settings)
    try:
        await service.start_workers()
        account = (await service.create_api_key("k", 100)).key.account_id
        job = await service.submit(
            account,
            _portrait({"audio": SpokenText(story, language="ja")}),
            local_dirs=[face_photo_path().parent],
        )
        assert job.estimate_seconds == 3, "held at the limit, not at the text's bound"
        done = await service.wait(job.id, timeout=120)
        assert done.status == "failed"
        assert re.fullmatch(r"'audio' would last over \d+ s; the limit is 3 s", done.error or "")
        assert (await service.get_account(account)).balance == 100
    finally:
        await service.close()
    with pytest.raises(tts.TooLong) as stopped:
        tts.speak(story, tts.choose(language="ja"), max_seconds=3)
    assert 3 < stopped.value.seconds < 10, "synthesis ran on past the limit"
