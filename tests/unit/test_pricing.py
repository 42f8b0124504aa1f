from __future__ import annotations

import pytest

from engine.config import PricingSettings
from engine.pricing import billable_seconds, output_seconds, quote, quote_job

P = PricingSettings()


def test_seed_example_three_seconds_at_720p_costs_twenty() -> None:
    assert quote(3.0, "720p", P).credits == 20


def test_seed_example_ten_seconds_at_480p_costs_twenty() -> None:
    assert quote(10.0, "480p", P).credits == 20


@pytest.mark.parametrize(
    ("seconds", "billable"),
    [(0.2, 5), (4.99, 5), (5.0, 5), (5.01, 6), (10.0, 10), (10.0004, 10), (61.2, 62)],
)
def test_billable_seconds_round_up_with_a_five_second_minimum(
    seconds: float, billable: int
) -> None:
    assert billable_seconds(seconds, 5) == billable


def test_meanwhile_bills_the_longer_audio_and_turns_bill_the_sum() -> None:
    durations = {"left_audio": 7.0, "right_audio": 4.0}
    assert quote_job("lipsync-image-multi", "480p", durations, P, order="meanwhile").credits == 14
    assert quote_job("lipsync-image-multi", "480p", durations, P, order="left_right").credits == 22
    assert quote_job("lipsync-image-multi", "720p", durations, P, order="right_left").credits == 44


def test_video_output_follows_the_audio_not_the_video() -> None:
    assert output_seconds("lipsync-video", {"video": 30.0, "audio": 8.0}) == 8.0
    assert output_seconds("lipsync-video", {"video": 3.0, "audio": 8.0}) == 8.0


def test_max_duration_caps_the_billed_output() -> None:
    q = quote_job("lipsync-image", "1080p", {"audio": 100.0}, P, max_duration=12)
    assert (q.billable_seconds, q.credits) == (12, 96)


def test_prices_come_from_settings() -> None:
    cheap = PricingSettings(min_seconds=1, credits_per_second={"480p": 1, "720p": 1, "1080p": 1})
    assert quote(2.5, "720p", cheap).credits == 3
