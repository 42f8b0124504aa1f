from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import load_audio, resample_audio
from tests.support.media_fixtures import (
    gray_frame,
    marker_frame,
    tone,
    write_audio,
    write_png,
    write_video,
)


def _dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum)) * rate / len(samples)


def _has_tone(samples: np.ndarray, rate: int, hz: float) -> bool:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    band = spectrum[round((hz - 10) * len(samples) / rate) : round((hz + 10) * len(samples) / rate)]
    return bool(band.max() > 0.3 * spectrum.max())


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


@pytest.mark.parametrize(
    "suffix, rate, channels",
    [
        (".wav", 44100, 2),
        (".mp3", 22050, 1),
        (".ogg", 44100, 2),
        (".oga", 44100, 2),
        (".opus", 16000, 1),
        (".m4a", 48000, 2),
        (".aac", 32000, 1),
        (".flac", 96000, 1),
    ],
)
def test_formats_rates_and_layouts(tmp_path: Path, suffix: str, rate: int, channels: int) -> None:
    path = write_audio(tmp_path / f"a{suffix}", tone(1.0, rate, channels=channels), rate)
    samples = load_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    # Codec priming/padding may add a few ms; raw ADTS AAC has no edit list to trim it.
    assert len(samples) / 16000 == pytest.approx(1.0, abs=0.07)
    assert np.abs(samples).max() <= 1.0
    middle = samples[4000:12000]
    # Channel c carries 440 * (c + 1) Hz, so a stereo file must show both tones.
    assert all(_has_tone(middle, 16000, 440 * (c + 1)) for c in range(channels))
    # Each channel is a 0.5 sine; the mono mix is their average (0.25 RMS for two channels).
    expected_rms = 0.5 / np.sqrt(2) / np.sqrt(channels)
    assert _rms(middle) == pytest.approx(expected_rms, rel=0.1)


def test_identical_stereo_channels_are_averaged_not_summed(tmp_path: Path) -> None:
    """FFmpeg's default float downmix adds -3 dB channels: a loud voice would clip."""
    mono = tone(0.5, 16000, amp=0.9)
    path = write_audio(tmp_path / "s.wav", np.hstack([mono, mono]), 16000)
    samples = load_audio(path)
    assert np.abs(samples).max() == pytest.approx(0.9, abs=0.01)


def test_output_rate(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", tone(0.5, 44100), 44100)
    samples = load_audio(path, sample_rate=24000)
    assert len(samples) == 12000
    assert _dominant_hz(samples, 24000) == pytest.approx(440, abs=5)


def test_sound_of_a_video(tmp_path: Path) -> None:
    frames = [gray_frame(32, 32, 100)] * 10
    path = write_video(tmp_path / "v.mp4", frames, fps=10, audio=tone(1.0, 48000, channels=2))
    samples = load_audio(path)
    assert len(samples) / 16000 == pytest.approx(1.0, abs=0.01)
    assert _dominant_hz(samples[2000:14000], 16000) == pytest.approx(440, abs=5)


def test_video_without_sound(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", [gray_frame(32, 32, 100)] * 3)
    with pytest.raises(MediaError, match="no sound"):
        load_audio(path)


def test_image_has_no_sound(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no sound"):
        load_audio(write_png(tmp_path / "p.png", marker_frame(16, 16)))


def test_too_long_from_header(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.flac", tone(3.0, 8000), 8000)
    with pytest.raises(MediaError, match="too long"):
        load_audio(path, max_seconds=1.0)
    assert len(load_audio(path, max_seconds=None)) == 48000


def test_too_long_while_decoding_when_header_is_silent(tmp_path: Path) -> None:
    """Raw ADTS AAC has no duration field; the decode loop must still stop at the limit."""
    path = write_audio(tmp_path / "a.aac", tone(3.0, 16000), 16000)
    with pytest.raises(MediaError, match="too long"):
        load_audio(path, max_seconds=1.0)


def test_just_under_the_limit_is_fine(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", tone(1.0, 16000), 16000)
    assert len(load_audio(path, max_seconds=1.0)) == 16000


def test_truncated_file_keeps_what_decodes(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.mp3", tone(2.0, 16000), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    samples = load_audio(path)
    assert 0.5 < len(samples) / 16000 < 1.6


def test_garbage(tmp_path: Path) -> None:
    (tmp_path / "a.mp3").write_bytes(b"ID3" + np.random.default_rng(3).bytes(4000))
    with pytest.raises(MediaError):
        load_audio(tmp_path / "a.mp3")


def test_resample_mono_keeps_length_ratio_and_pitch() -> None:
    samples = tone(1.0, 16000)[:, 0]
    up = resample_audio(samples, 16000, 48000)
    assert up.shape == (48000,) and up.dtype == np.float32
    assert _dominant_hz(up, 48000) == pytest.approx(440, abs=2)
    assert _rms(up[4800:-4800]) == pytest.approx(_rms(samples), rel=0.02)


def test_resample_stereo_keeps_channels_apart() -> None:
    stereo = tone(0.5, 44100, channels=2)
    out = resample_audio(stereo, 44100, 16000)
    assert out.shape == (8000, 2)
    assert _dominant_hz(out[:, 0], 16000) == pytest.approx(440, abs=3)
    assert _dominant_hz(out[:, 1], 16000) == pytest.approx(880, abs=3)


def test_resample_same_rate_is_a_copy() -> None:
    samples = tone(0.1, 8000)[:, 0]
    out = resample_audio(samples, 8000, 8000)
    assert np.array_equal(out, samples) and out is not samples


def test_resample_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        resample_audio(np.zeros((10, 3), np.float32), 8000, 16000)
