"""Output frame -> source frame mappings (trim, bounce, loop, freeze) and playing them back
without holding the video: re-decoding in order, and the lossless cache for backwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.lipsync.dubbing.retime import (
    GOP,
    LosslessCache,
    plays_backwards,
    replay,
    runs,
    source_indices,
)


def test_a_longer_video_is_trimmed_whatever_the_mode() -> None:
    for mode in ("bounce", "loop", "freeze"):
        assert source_indices(4, 10, mode).tolist() == [0, 1, 2, 3]
        assert source_indices(5, 5, mode).tolist() == [0, 1, 2, 3, 4]


def test_bounce_plays_forward_and_back_without_a_jump() -> None:
    got = source_indices(12, 4, "bounce").tolist()
    assert got == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1]
    steps = np.abs(np.diff(got))
    assert steps.max() == 1


def test_loop_restarts_and_freeze_holds_the_last_frame() -> None:
    assert source_indices(9, 4, "loop").tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0]
    assert source_indices(7, 4, "freeze").tolist() == [0, 1, 2, 3, 3, 3, 3]


def test_a_single_frame_video_is_held() -> None:
    for mode in ("bounce", "loop", "freeze"):
        assert source_indices(3, 1, mode).tolist() == [0, 0, 0]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        source_indices(3, 2, "shuffle")
    with pytest.raises(ValueError):
        source_indices(3, 0, "loop")


def test_only_bounce_plays_backwards() -> None:
    assert plays_backwards(source_indices(10, 4, "bounce"))
    assert not plays_backwards(source_indices(10, 4, "loop"))
    assert not plays_backwards(source_indices(10, 4, "freeze"))
    assert not plays_backwards(source_indices(3, 4, "bounce"))


def test_runs_split_an_index_sequence() -> None:
    assert runs(np.array([0, 1, 2, 3, 2, 1, 0, 1])) == [(0, 1, 4), (2, -1, 3), (1, 0, 1)]
    assert runs(np.array([3, 3, 3])) == [(3, 0, 3)]
    assert runs(np.array([0, 1, 0, 1])) == [(0, 1, 2), (0, 1, 2)]
    assert runs(np.array([], np.int64)) == []


def _numbered(n: int) -> list[np.ndarray]:
    return [np.full((4, 6, 3), i, np.uint8) for i in range(n)]


def test_replay_reopens_for_a_loop_and_repeats_for_a_freeze() -> None:
    frames = _numbered(4)
    opened = []

    def source() -> Iterator[np.ndarray]:
        opened.append(1)
        return iter([f.copy() for f in frames])

    indices = source_indices(10, 4, "loop")
    got = [(j, int(f[0, 0, 0])) for j, f in replay(source, indices)]
    assert got == [(int(j), int(j)) for j in indices]
    assert len(opened) == 3
    opened.clear()
    held = list(replay(source, source_indices(6, 4, "freeze")))
    assert [int(f[0, 0, 0]) for _, f in held] == [0, 1, 2, 3, 3, 3]
    assert len(opened) == 1
    held[-1][1][:] = 99  # frames are copies: drawing on one leaves the others alone
    assert int(held[-2][1][0, 0, 0]) == 3


def test_lossless_cache_plays_bounce_bit_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(2 * GOP + 5)]
    with LosslessCache(tmp_path / "cache.mkv", (64, 48), 25.0) as cache:
        for frame in frames:
            cache.write(frame)
    indices = source_indices(3 * len(frames), len(frames), "bounce")
    played = list(cache.play(indices))
    assert [j for j, _ in played] == indices.tolist()
    for j, frame in played:
        assert np.array_equal(frame, frames[j])
    cache.remove()
    assert not (tmp_path / "cache.mkv").exists()


def test_lossless_cache_handles_freeze_and_loop(tmp_path: Path) -> None:
    frames = _numbered(5)
    frames = [np.ascontiguousarray(np.pad(f, ((0, 12), (0, 10), (0, 0)))) for f in frames]
    size = (frames[0].shape[1], frames[0].shape[0])
    with LosslessCache(tmp_path / "cache.mkv", size, 30.0) as cache:
        for frame in frames:
            cache.write(frame)
    for mode in ("freeze", "loop"):
        indices = source_indices(12, 5, mode)
        played = list(cache.play(indices))
        assert [int(f[0, 0, 0]) for _, f in played] == indices.tolist()
