"""What covers the mouth: the template map, the occluder finder and the per-frame fade."""

from __future__ import annotations

import numpy as np
import pytest

from engine.lipsync.dubbing import confidence, occlusion
from engine.lipsync.dubbing import skin_map as sm
from engine.lipsync.dubbing.tracking import KEY_POINTS
from engine.lipsync.speech.motion import limit_rate


def _face_points(scale: float = 80.0, offset: tuple[float, float] = (300.0, 200.0)) -> np.ndarray:
    """KEY_POINTS landmarks of a frontal face made from the template itself (eyes and nose
    placed where the canonical frame puts them), `scale` pixels per eye distance."""
    points = np.zeros((len(KEY_POINTS), 2), np.float32)
    where = {33: (-0.72, -0.3), 133: (-0.28, -0.3), 362: (0.28, -0.3), 263: (0.72, -0.3)}
    nose = {168: -0.39, 6: -0.28, 197: -0.17, 195: -0.06, 5: 0.05, 4: 0.18, 1: 0.29, 2: 0.38}
    for i, index in enumerate(KEY_POINTS):
        if index in sm.TEMPLATE:
            xy = sm.TEMPLATE[index]
        elif index in where:
            xy = where[index]
        elif index in nose:
            xy = (0.0, nose[index])
        else:
            xy = (0.0, 0.0)
        points[i] = (xy[0] * scale + offset[0], xy[1] * scale + offset[1])
    return points


def test_template_has_skin_lips_and_an_opening() -> None:
    zones = sm.zones()
    counts = np.bincount(zones.ravel(), minlength=4)
    assert counts[sm.SKIN] > 1000 and counts[sm.LIP] > 100 and counts[sm.INSIDE] > 40
    # The opening lies between the lips: every column of it has lip above and below.
    rows, cols = np.nonzero(zones == sm.INSIDE)
    for c in np.unique(cols)[2:-2]:
        column = zones[:, c]
        top, bottom = rows[cols == c].min(), rows[cols == c].max()
        assert (column[:top] == sm.LIP).any() and (column[bottom + 1 :] == sm.LIP).any()


def test_a_frame_read_onto_the_template_and_drawn_back_lands_where_it_was() -> None:
    points = _face_points()
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, :, 0] = np.arange(640)[None, :] // 3  # position coded in colour
    frame[:, :, 1] = np.arange(480)[:, None] // 2
    picture = sm.sample(frame, points)
    inside = sm.mesh().pixel_triangle >= 0
    # A template pixel shows the frame pixel the mesh puts it at.
    xy = sm.source_points(points)
    expected = xy[..., 0][inside] / 3
    assert np.abs(picture[..., 0][inside] - expected).mean() < 1.0
    # Lips in the template drawn back into the frame cover the face's own lips.
    lips = (sm.zones() == sm.LIP).astype(np.float32)
    box = (150, 150, 450, 350)
    drawn = sm.to_image(lips, points, box, step=1)
    lip_xy = points[[KEY_POINTS.index(i) for i in (0, 17, 61, 291)]] - np.array(box[:2])
    for x, y in np.round(lip_xy).astype(int):
        assert drawn[max(0, y - 3) : y + 4, max(0, x - 3) : x + 4].max() > 0.5
    assert drawn[5, 5] == 0.0  # nothing outside the face


def _pictures(
    n: int, blob: list[tuple[int, int] | None], colour: tuple[int, int, int]
) -> np.ndarray:
    """n template pictures of a textured face (skin, red lips, dark opening) with a blob
    of `colour` at the given template pixel in some frames."""
    rng = np.random.default_rng(0)
    zones = sm.zones()
    base = np.zeros((sm.HEIGHT, sm.WIDTH, 3), np.float32)
    base[zones == sm.SKIN] = (205, 150, 125)
    base[zones == sm.LIP] = (170, 80, 80)
    base[zones == sm.INSIDE] = (60, 20, 20)
    base += rng.normal(0, 6, base.shape)
    out = np.zeros((n, sm.HEIGHT, sm.WIDTH, 4), np.uint8)
    ys, xs = np.mgrid[0 : sm.HEIGHT, 0 : sm.WIDTH]
    for i in range(n):
        frame = base + rng.normal(0, 2, base.shape)
        if blob[i] is not None:
            cx, cy = blob[i]
            frame[(xs - cx) ** 2 + (ys - cy) ** 2 < 36] = colour
        frame[zones == sm.OUTSIDE] = 0
        out[i, ..., :3] = np.clip(frame, 0, 255).astype(np.uint8)
    return out


@pytest.mark.parametrize("colour", [(40, 40, 45), (225, 175, 150)], ids=["dark", "skin-like"])
def test_something_passing_over_the_chin_is_found_and_nothing_else(colour: tuple) -> None:
    n = 60
    path = [None] * 20 + [(20 + i, 34) for i in range(20)] + [None] * 20
    pictures = _pictures(n, path, colour)
    found = occlusion.find(pictures, list(range(n)), [0] * n, np.zeros(n), fps=25.0)
    assert all(j not in found.packed for j in range(0, 18)), "clean frames stay clean"
    assert all(j not in found.packed for j in range(43, 60))
    hits = 0
    for j in range(22, 38):
        mask = found.mask(j)
        assert mask is not None, f"frame {j}: the blob was missed"
        cx, cy = path[j]
        hits += int(mask[cy, cx] > 0)
    assert hits >= 14


def test_a_hand_found_by_the_hand_model_covers_whatever_its_colour() -> None:
    n = 30
    pictures = _pictures(n, [None] * n, (0, 0, 0))
    chin = slice(sm.HEIGHT - 14, sm.HEIGHT - 6), slice(sm.WIDTH // 2 - 5, sm.WIDTH // 2 + 5)
    pictures[10, chin[0], chin[1], 3] = 255  # the hand model's coverage in one frame
    found = occlusion.find(pictures, list(range(n)), [0] * n, np.zeros(n), fps=25.0)
    mask = found.mask(10)
    assert mask is not None and mask[chin].all()
    # Beside the cheek, away from anything a dub paints, a hand does not matter.
    pictures[20, 0:6, 0:8, 3] = 255
    found = occlusion.find(pictures, list(range(n)), [0] * n, np.zeros(n), fps=25.0)
    assert found.mask(20) is None


def test_a_finger_across_the_lips_hides_the_opening_behind_it_too() -> None:
    n = 40
    zones = sm.zones()
    inside_cols = np.nonzero((zones == sm.INSIDE).any(axis=0))[0]
    x = int(inside_cols.mean())
    pictures = _pictures(n, [None] * n, (0, 0, 0))
    # A vertical finger over the lips at column x in frames 20-24 (hand coverage).
    pictures[20:25, :, x - 2 : x + 3, 3] = 255
    found = occlusion.find(pictures, list(range(n)), [0] * n, np.zeros(n), fps=25.0)
    mask = found.mask(22)
    assert mask is not None
    assert mask[zones == sm.INSIDE][np.nonzero(zones == sm.INSIDE)[1] == x].all()
    assert found.visible[22] < 1.0 and found.visible[5] == 1.0


def test_the_dub_fades_in_and_out_over_several_frames() -> None:
    n = 60
    weight = np.ones(n)
    weight[30] = 0.0  # one unusable frame (a head turned away, a hand over the mouth)
    eased = confidence.ease(weight, [0] * n, [0] * n, fps=25.0)
    assert eased[30] == 0.0 and eased[0] == 1.0 and eased[-1] == 1.0
    assert np.abs(np.diff(eased)).max() <= 0.35, "no pop"
    assert (eased[24:30] < 1.0).any(), "the fade starts before the bad frame"


def test_at_a_cut_the_dub_starts_at_once_but_a_face_found_mid_shot_fades_in() -> None:
    n = 40
    weight = np.ones(n)
    speaker = [-1] * 10 + [0] * 30
    cut = confidence.ease(weight, speaker, [0] * 10 + [1] * 30, fps=25.0)
    assert cut[10] == 1.0
    found = confidence.ease(weight, speaker, [0] * n, fps=25.0)
    assert found[10] < 0.5 and found[20] == 1.0


def test_turned_small_blurred_or_unsteady_faces_take_less_dub() -> None:
    n = 6
    m = confidence.FrameMeasures(
        yaw=np.array([0.0, 0.6, 0.0, 0.0, 0.0, 0.0]),
        pitch=np.zeros(n),
        roll_deg=np.zeros(n),
        eyes_px=np.array([80, 80, 8, 80, 80, 80.0]),
        jitter=np.array([0.01, 0.01, 0.01, 0.2, 0.01, 0.01]),
        speed=np.array([0, 0, 0, 0, 0.6, 0.0]),
    )
    w = confidence.frame_weights(m, np.ones(n), [0] * n)
    assert w[0] == 1.0 and w[5] == 1.0
    assert w[1] == 0.0 and w[2] == 0.0 and w[3] == 0.0 and w[4] == 0.0


def test_lips_never_jump_but_closures_stay_shut() -> None:
    fps = 25.0
    openness = np.array([0, 0, 1, 1, 1, 0, 0, 0.9, 0, 0], np.float32)
    limited = limit_rate(openness, fps)
    assert np.abs(np.diff(limited)).max() <= 9.0 / fps + 1e-6
    assert (limited[openness == 0] == 0).all()
    assert limited[3] > 0.7 and (limited <= openness + 1e-6).all()
