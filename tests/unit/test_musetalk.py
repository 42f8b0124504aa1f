"""MuseTalk 1.5: its networks match upstream's, it loads only whole and fitting checkpoints,
and it inpaints the lower half of a face from the speech the way upstream does.

Networks are tiny random ones of the real classes, saved in upstream's layout and formats
(tests/support/musetalk_model.py); the real sizes are checked against a manifest written
by scripts/musetalk_manifest.py from upstream's configs.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from engine.lipsync.neural.musetalk import (
    check_musetalk_dir,
    layout,
    load_musetalk,
    model,
    musetalk_face_box,
)
from engine.lipsync.neural.musetalk.audio import PAD_LEFT, WINDOW
from engine.lipsync.neural.musetalk.checkpoint import expected_shapes
from engine.lipsync.neural.musetalk.face_box import IBUG68_FROM_MEDIAPIPE
from tests.support.musetalk_model import TINY_WHISPER, write_tiny_musetalk
from tests.support.speech import speak

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "tests" / "data" / "manifests" / "musetalk.json"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_musetalk(tmp_path_factory.mktemp("musetalk") / "models")


@pytest.fixture(scope="module")
def generator(model_dir: Path):
    return load_musetalk(model_dir, "cpu")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, int]:
    """Two seconds of a real voice at espeak's own 22050 Hz (so resampling runs too)."""
    from engine.media.audio import load_audio

    wav = speak("Bob bought a big map.", "en", tmp_path_factory.mktemp("speech") / "s.wav")
    return load_audio(wav, sample_rate=22050), 22050


def faces(seed: int, n: int = 3) -> np.ndarray:
    """Smooth random 'faces' (blurred noise), so the VAE sees images, not white noise."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)
    return np.stack([cv2.resize(img, (256, 256), interpolation=cv2.INTER_CUBIC) for img in small])


def damaged_copy(model_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    return copy


# --- the real networks -------------------------------------------------------------------


def test_the_networks_we_build_from_the_real_configs_match_upstreams_manifest() -> None:
    manifest = json.loads(MANIFEST.read_text())
    configs = manifest["configs"]

    def same(ours: dict, theirs: dict) -> None:
        assert {k: v for k, v in ours.items() if not k.startswith("_")} == {
            k: v for k, v in theirs.items() if not k.startswith("_")
        }

    same(layout.UNET_REAL_CONFIG, configs["musetalkV15/musetalk.json"])
    same(layout.VAE_REAL_CONFIG, configs["sd-vae/config.json"])
    same(layout.WHISPER_REAL_CONFIG, configs["whisper/config.json"])
    here = Path("real")
    built = {
        "unet": model.unet_on_meta(layout.UNET_REAL_CONFIG, here),
        "vae": model.vae_on_meta(layout.VAE_REAL_CONFIG, here),
        "whisper_encoder": model.whisper_encoder_on_meta(layout.WHISPER_REAL_CONFIG, here),
    }
    for name, network in built.items():
        ours = {key: list(shape) for key, shape in expected_shapes(network).items()}
        assert ours == manifest["networks"][name], name
    assert built["vae"].config.scaling_factor == manifest["scaling_factor"] == 0.18215
    assert sum(math.prod(s) for s in manifest["networks"]["unet"].values()) > 800e6


# --- loading -----------------------------------------------------------------------------


def test_loads_the_files_weights_not_random_ones(generator, model_dir: Path) -> None:
    saved = torch.load(model_dir / "musetalkV15" / "unet.pth", weights_only=True)
    for key, value in generator.unet.state_dict().items():
        assert torch.equal(value, saved[key]), key
    whisper = torch.load(model_dir / "whisper" / "pytorch_model.bin", weights_only=True)
    for key, value in generator.encoder.state_dict().items():
        assert torch.equal(value, whisper[f"model.encoder.{key}"]), key
    assert (generator.name, generator.crop_size, generator.batch_size) == ("musetalk", 256, 4)
    assert generator.dtype == torch.float32


def test_an_upstream_layout_with_old_vae_names_and_safetensors_whisper_loads(
    model_dir: Path, tmp_path: Path, generator
) -> None:
    """sd-vae-ft-mse was saved by diffusers 0.4 (attention `query`/`key`/`value`/
    `proj_attn`); whisper may come as `model.safetensors` without the `model.` prefix."""
    from safetensors.torch import save_file

    copy = damaged_copy(model_dir, tmp_path)
    vae_file = copy / "sd-vae" / "diffusion_pytorch_model.bin"
    state = torch.load(vae_file, weights_only=True)
    old = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    renamed = {}
    for key, value in state.items():
        for new, legacy in old.items():
            key = key.replace(f".{new}.", f".{legacy}.")
        renamed[key] = value
    assert any(".proj_attn." in key for key in renamed)
    torch.save(renamed, vae_file)
    whisper = torch.load(copy / "whisper" / "pytorch_model.bin", weights_only=True)
    (copy / "whisper" / "pytorch_model.bin").unlink()
    bare = {k.removeprefix("model."): v.contiguous() for k, v in whisper.items()}
    save_file(bare, str(copy / "whisper" / "model.safetensors"))

    check_musetalk_dir(copy)
    loaded = load_musetalk(copy, "cpu")
    crops = faces(1, 2)
    features = loaded.speech_features(np.zeros(16000, np.float32), 16000, 25.0, 10)
    expected = generator.generate(
        crops,
        crops,
        generator.speech_features(np.zeros(16000, np.float32), 16000, 25.0, 10),
        [0, 5],
    )
    assert np.array_equal(loaded.generate(crops, crops, features, [0, 5]), expected)


def _drop_first(state: dict) -> dict:
    del state[next(iter(state))]
    return state


def _rename_first(state: dict) -> dict:
    key = next(iter(state))
    state[key.replace("weight", "wieght")] = state.pop(key)
    return state


def _reshape_first(state: dict) -> dict:
    key = next(iter(state))
    state[key] = torch.zeros(state[key].shape[0] + 1, *state[key].shape[1:])
    return state


# (file, how it is damaged, what the message must name besides the file)
DAMAGES = [
    ("musetalkV15/unet.pth", _drop_first, "conv_in.weight"),
    ("musetalkV15/unet.pth", _rename_first, "conv_in.wieght"),
    ("musetalkV15/unet.pth", _reshape_first, "conv_in.weight"),
    ("sd-vae/diffusion_pytorch_model.bin", _drop_first, "encoder.conv_in.weight"),
    ("sd-vae/diffusion_pytorch_model.bin", _reshape_first, "encoder.conv_in.weight"),
    ("whisper/pytorch_model.bin", _drop_first, "model.encoder.conv1.weight"),
    ("whisper/pytorch_model.bin", _rename_first, "model.encoder.conv1.weight"),
    ("whisper/pytorch_model.bin", _reshape_first, "model.encoder.conv1.weight"),
]


@pytest.mark.parametrize(
    ("name", "damage", "key"), DAMAGES, ids=[f"{n}-{d.__name__}" for n, d, _ in DAMAGES]
)
def test_a_mismatched_checkpoint_is_refused_naming_the_file_and_key(
    model_dir: Path, tmp_path: Path, name: str, damage, key: str
) -> None:
    copy = damaged_copy(model_dir, tmp_path)
    torch.save(damage(torch.load(copy / name, weights_only=True)), copy / name)
    for check in (check_musetalk_dir, lambda d: load_musetalk(d, "cpu")):
        with pytest.raises(ConfigError) as caught:
            check(copy)
        assert str(copy / name) in str(caught.value)
        assert repr(key) in str(caught.value)


def test_a_truncated_weights_file_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = damaged_copy(model_dir, tmp_path)
    for name in ("musetalkV15/unet.pth", "whisper/pytorch_model.bin"):
        data = (copy / name).read_bytes()
        (copy / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(ConfigError, match=r"cannot be read") as caught:
            load_musetalk(copy, "cpu")
        assert str(copy / name) in str(caught.value)
        (copy / name).write_bytes(data)


@pytest.mark.parametrize(
    "name",
    [
        "musetalkV15/unet.pth",
        "musetalkV15/musetalk.json",
        "sd-vae/config.json",
        "sd-vae/diffusion_pytorch_model.bin",
        "whisper/config.json",
        "whisper/pytorch_model.bin",
        "whisper/preprocessor_config.json",
    ],
)
def test_a_missing_file_is_named(model_dir: Path, tmp_path: Path, name: str) -> None:
    copy = damaged_copy(model_dir, tmp_path)
    (copy / name).unlink()
    with pytest.raises(ConfigError, match="missing") as caught:
        load_musetalk(copy, "cpu")
    assert str(copy / name) in str(caught.value)


def test_a_missing_directory_and_a_broken_config_are_refused(
    model_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="not a directory"):
        load_musetalk(tmp_path / "nowhere", "cpu")
    copy = damaged_copy(model_dir, tmp_path)
    config = copy / "musetalkV15" / "musetalk.json"
    config.write_text(config.read_text()[:40])
    with pytest.raises(ConfigError, match="not readable JSON") as caught:
        check_musetalk_dir(copy)
    assert str(config) in str(caught.value)
    # A valid config for another network: the weights then do not fit, named by key.
    other = json.loads((model_dir / "musetalkV15" / "musetalk.json").read_text())
    other["block_out_channels"] = [64, 64]
    config.write_text(json.dumps(other))
    with pytest.raises(ConfigError, match=r"conv_in\.weight") as caught:
        load_musetalk(copy, "cpu")
    assert str(copy / "musetalkV15" / "unet.pth") in str(caught.value)
    other["in_channels"] = 4
    config.write_text(json.dumps(other))
    with pytest.raises(ConfigError, match="8 -> 4 channels"):
        load_musetalk(copy, "cpu")


def test_without_the_extra_the_error_says_what_to_install(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(ConfigError, match=r"pip install '\.\[musetalk\]'"):
        load_musetalk(model_dir, "cpu")


def test_the_engine_imports_musetalk_without_torch() -> None:
    code = (
        "import sys, engine.lipsync.neural.musetalk as m; "
        "assert not {'torch', 'diffusers', 'transformers'} & set(sys.modules), m"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- speech ------------------------------------------------------------------------------


def test_whisper_features_are_every_hidden_state_as_upstream_stacks_them(generator) -> None:
    """Upstream (transformers 4.39) stacks the encoder's `hidden_states`: the embeddings,
    each layer's output but the last, and the last one layer-normed. Pinned here by running
    the encoder's parts by hand, so a library that counts them differently fails."""
    encoder = generator.encoder
    mel = torch.randn(1, 80, 3000)
    with torch.inference_mode():
        reported = encoder(mel, output_hidden_states=True).hidden_states
        x = torch.nn.functional.gelu(encoder.conv1(mel))
        x = torch.nn.functional.gelu(encoder.conv2(x)).permute(0, 2, 1)
        x = x + encoder.embed_positions.weight
        by_hand = [x]
        for layer in encoder.layers:
            out = layer(x, None)
            x = out[0] if isinstance(out, tuple) else out
            by_hand.append(x)
        by_hand[-1] = encoder.layer_norm(x)
    assert len(reported) == TINY_WHISPER["encoder_layers"] + 1
    for got, want in zip(reported, by_hand, strict=True):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_each_frame_listens_to_ten_feature_steps_around_it(generator, speech) -> None:
    samples, rate = speech
    fps, frames = 25.0, 60  # longer than the speech: padded with silence
    features = generator.speech_features(samples, rate, fps, frames)
    layers = TINY_WHISPER["encoder_layers"] + 1
    tokens = features.tokens([0, 1, frames - 1])
    assert tokens.shape == (3, WINDOW * layers, 384)
    plain = tokens - model.positional_encoding(WINDOW * layers)
    # Frame 0's window starts 2 frames (4 feature steps at 25 fps) before the speech.
    lead = math.ceil(50 / fps) * PAD_LEFT
    assert torch.count_nonzero(plain[0, : lead * layers].abs() > 1e-5) == 0
    assert torch.count_nonzero(plain[0, lead * layers :]) > 0
    # Frame 1 is frame 0's window moved by two steps (50 features/s at 25 fps).
    torch.testing.assert_close(plain[1, : -2 * layers], plain[0, 2 * layers :])
    again = generator.speech_features(samples, rate, fps, frames)
    assert torch.equal(again.features, features.features)
    with pytest.raises(IndexError):
        features.tokens([frames])


# --- generation --------------------------------------------------------------------------


def test_generate_redraws_the_lower_half_from_the_upper_half_reference_and_speech(
    generator, speech
) -> None:
    samples, rate = speech
    features = generator.speech_features(samples, rate, 25.0, 50)
    crops, references = faces(2, 2), faces(3, 2)
    frames = [5, 40]
    out = generator.generate(crops, references, features, frames)
    assert out.shape == (2, 256, 256, 3) and out.dtype == np.uint8
    assert np.array_equal(out, generator.generate(crops, references, features, frames))
    # The crop's lower half is masked out before the VAE: it cannot change the result.
    other_lower = crops.copy()
    other_lower[:, 128:] = 255 - other_lower[:, 128:]
    assert np.array_equal(out, generator.generate(other_lower, references, features, frames))
    # Its upper half, the reference and the speech all do.
    other_upper = crops.copy()
    other_upper[:, :128] = 255 - other_upper[:, :128]
    assert not np.array_equal(out, generator.generate(other_upper, references, features, frames))
    assert not np.array_equal(out, generator.generate(crops, crops, features, frames))
    assert not np.array_equal(out, generator.generate(crops, references, features, [6, 41]))
    # A frame renders the same alone as in a batch (up to float summation order, which
    # random weights amplify here and there).
    alone = generator.generate(crops[1:2], references[1:2], features, [40])
    assert np.abs(alone.astype(int) - out[1:2]).mean() < 0.5


def test_generate_is_upstreams_step_latent_by_latent(generator) -> None:
    """VAE mean latents x 0.18215, [masked, reference] on channels, UNet at t=0 with the
    tokens, decode / 0.18215, [-1, 1] -> [0, 255] rounded; RGB throughout."""
    features = generator.speech_features(np.zeros(8000, np.float32), 16000, 25.0, 5)
    crop, reference = faces(4, 1), faces(5, 1)
    vae, unet, scale = generator.vae, generator.unet, 0.18215

    def latents(rgb: np.ndarray, mask: bool) -> torch.Tensor:
        x = torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255
        if mask:
            x[:, :, 128:] = 0
        return vae.encode(x * 2 - 1).latent_dist.mean * scale

    with torch.inference_mode():
        both = torch.cat([latents(crop, True), latents(reference, False)], dim=1)
        assert both.shape == (1, 8, 32, 32)
        pred = unet(both, 0, encoder_hidden_states=features.tokens([3])).sample
        image = vae.decode(pred / scale).sample[0].permute(1, 2, 0)
        want = ((image / 2 + 0.5).clamp(0, 1) * 255).round().byte().numpy()
    assert np.array_equal(generator.generate(crop, reference, features, [3])[0], want)
    swapped = crop[..., ::-1].copy()
    assert not np.array_equal(generator.generate(swapped, reference, features, [3])[0], want)


# --- the face box ------------------------------------------------------------------------


def test_face_box_follows_upstreams_rule_on_the_68_point_landmarks() -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(200, 300, (478, 2))
    lm = points[list(IBUG68_FROM_MEDIAPIPE)]
    lm[:, 1] = np.clip(lm[:, 1], 200, 280)
    lm[29] = [250.7, 230.9]  # nose bridge: the middle line, truncated to 230
    lm[8] = [251.0, 290.6]  # chin: the lowest point, truncated to 290
    lm[0, 0], lm[16, 0] = 180.9, 320.2  # jaw ends: the widest points
    points[list(IBUG68_FROM_MEDIAPIPE)] = lm
    assert musetalk_face_box(points, (720, 1280)) == (180, 230 - 60, 320, 290 + 10)
    # Near the frame's edges the box is clipped into the frame.
    assert musetalk_face_box(points, (295, 300)) == (180, 170, 300, 295)
    points[:, 1] -= 200
    assert musetalk_face_box(points, (720, 1280))[1] == 0


def upstream_box(lm68: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Upstream's rule on all 68 points (preprocessing.get_landmark_and_bbox + v1.5's
    extra_margin in inference.py), written out plainly."""
    lm = lm68.astype(np.int32)
    half = lm[29].copy()
    dist = np.max(lm[:, 1]) - half[1]
    top = max(0, half[1] - dist)
    x1, y1, x2, y2 = np.min(lm[:, 0]), int(top), np.max(lm[:, 0]), np.max(lm[:, 1])
    return int(x1), y1, int(x2), min(int(y2) + 10, shape[0])


@pytest.mark.parametrize("photo", ["hopper", "astronaut"])
def test_face_box_on_real_faces_is_upstreams_and_masks_the_mouth(photo: str) -> None:
    from engine.lipsync.dubbing.tracking import KEY_POINTS
    from engine.lipsync.faces import find_face
    from tests.support.media import face_photo_paths

    image = cv2.cvtColor(cv2.imread(str(face_photo_paths()[photo])), cv2.COLOR_BGR2RGB)
    mesh = find_face(image).landmarks
    box = musetalk_face_box(mesh, image.shape[:2])
    # The 20 points we leave out never decide the box: it is upstream's over all 68.
    assert box == upstream_box(mesh[list(IBUG68_FROM_MEDIAPIPE)], image.shape[:2])
    # The tracker's key points alone give the same box; an unknown needed point refuses.
    tracked = np.full_like(mesh, np.nan)
    tracked[list(KEY_POINTS)] = mesh[list(KEY_POINTS)]
    assert musetalk_face_box(tracked, image.shape[:2]) == box
    tracked[152] = np.nan
    with pytest.raises(ValueError):
        musetalk_face_box(tracked, image.shape[:2])
    # The mask (the box's lower half) covers the mouth and not the eyes.
    x0, y0, x1, y1 = box
    middle = y0 + (y1 - y0) / 2
    assert (mesh[[61, 291, 0, 17], 1] > middle).all()
    assert (mesh[[33, 133, 362, 263], 1] < middle).all()
    assert x0 <= int(mesh[234, 0]) < int(mesh[454, 0]) <= x1
    assert y1 == int(mesh[152, 1]) + 10
