"""Wav2Lip: our module against upstream's definitions, the audio front end against upstream's
numbers, checkpoints in upstream's formats (and damaged ones), and the generator's I/O.

The manifest (`tests/data/manifests/wav2lip.json`) and the reference mel
(`wav2lip_mel.npz`) were written from upstream's own code by `scripts/model_manifest.py`
and `scripts/mel_reference.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine.config import load_settings
from engine.errors import ConfigError
from engine.lipsync.faces import find_face
from engine.lipsync.neural import check_backend, load_generator
from engine.lipsync.neural.mel import MelWindows, mel_windows, melspectrogram, window_start
from engine.lipsync.neural.wav2lip import Wav2Lip, Wav2LipGenerator, load_wav2lip
from tests.support.media import face_photo_path

MANIFESTS = Path(__file__).resolve().parents[1] / "data" / "manifests"


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return Wav2Lip().state_dict()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, state: dict[str, torch.Tensor]) -> Path:
    """wav2lip.pth as upstream's multi-GPU training saves it."""
    return save_upstream(tmp_path_factory.mktemp("w2l") / "wav2lip.pth", state, prefix="module.")


@pytest.fixture(scope="module")
def generator(checkpoint: Path) -> Wav2LipGenerator:
    return load_wav2lip(checkpoint, "cpu")


def save_upstream(path: Path, state: dict[str, torch.Tensor], *, prefix: str = "") -> Path:
    """A checkpoint as upstream's training writes it (DataParallel adds `module.`)."""
    torch.save(
        {
            "state_dict": {prefix + k: v for k, v in state.items()},
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]},
            "global_step": 12000,
            "global_epoch": 3,
        },
        path,
    )
    return path


# --- the module against upstream ---------------------------------------------------------


def test_parameter_names_and_shapes_are_upstreams() -> None:
    manifest = json.loads((MANIFESTS / "wav2lip.json").read_text())
    ours = {name: list(t.shape) for name, t in Wav2Lip().state_dict().items()}
    assert list(ours) == list(manifest["tensors"])  # same names, same order
    assert ours == manifest["tensors"]
    assert sum(p.numel() for p in Wav2Lip().parameters()) == manifest["parameters"] == 36_298_035


def test_the_generator_maps_faces_and_a_mel_window_to_a_face(
    generator: Wav2LipGenerator,
) -> None:
    model = generator.model
    with torch.inference_mode():
        out = model(torch.randn(2, 1, 80, 16), torch.rand(2, 6, 96, 96))
    assert out.shape == (2, 3, 96, 96)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


# --- the audio front end -----------------------------------------------------------------


def test_mel_matches_upstreams_audio_py() -> None:
    reference = np.load(MANIFESTS / "wav2lip_mel.npz")
    mel = melspectrogram(reference["signal"])
    assert mel.shape == reference["mel"].shape == (80, 1 + len(reference["signal"]) // 200)
    assert np.abs(mel - reference["mel"]).max() < 1e-4


def test_silence_is_the_floor_and_louder_is_higher() -> None:
    assert np.all(melspectrogram(np.zeros(16000, np.float32)) == -4.0)
    t = np.arange(16000) / 16000
    quiet = melspectrogram(0.01 * np.sin(2 * np.pi * 440 * t))
    loud = melspectrogram(0.5 * np.sin(2 * np.pi * 440 * t))
    band = int(np.argmax(loud[:, 40]))
    assert loud[band, 40] > quiet[band, 40] + 1.0
    assert loud.max() <= 4.0


def test_each_video_frame_sees_upstreams_window() -> None:
    windows = mel_windows(np.zeros(16000, np.float32), 16000, 25.0)
    assert windows.mel.shape == (80, 81)
    # Upstream: start = int(i * 80 / fps); past the end, the last 16 frames.
    assert [window_start(i, 25.0, 81) for i in (0, 1, 2, 3, 10, 24)] == [0, 3, 6, 9, 32, 65]
    assert window_start(30, 25.0, 81) == 81 - 16
    assert windows.windows([0, 5]).shape == (2, 1, 80, 16)
    ramp = MelWindows(np.tile(np.arange(100, dtype=np.float32), (80, 1)), 30.0)
    assert ramp.windows([7])[0, 0, 0, 0] == int(7 * 80 / 30.0)


def test_a_voice_shorter_than_one_window_is_padded_with_silence() -> None:
    windows = mel_windows(np.full(800, 0.2, np.float32), 16000, 25.0)
    assert windows.mel.shape == (80, 16)
    assert np.all(windows.mel[:, 5:] == -4.0)
    with pytest.raises(ValueError, match="16000 Hz"):
        mel_windows(np.zeros(100, np.float32), 48000, 25.0)


# --- checkpoints -------------------------------------------------------------------------


def test_upstream_checkpoints_load_with_their_weights(
    tmp_path: Path, state: dict[str, torch.Tensor], generator: Wav2LipGenerator
) -> None:
    single_gpu = load_wav2lip(save_upstream(tmp_path / "plain.pth", state), "cpu")
    for loaded in (generator, single_gpu):  # keys with and without `module.`
        weights = loaded.model.state_dict()
        assert all(torch.equal(weights[k], v) for k, v in state.items())
        assert not loaded.model.training and loaded.batch_size > 0


def test_the_legacy_torch_format_of_the_released_weights_loads(
    tmp_path: Path, state: dict[str, torch.Tensor]
) -> None:
    path = tmp_path / "wav2lip_gan.pth"
    torch.save(
        {"state_dict": {"module." + k: v for k, v in state.items()}, "global_step": 1},
        path,
        _use_new_zipfile_serialization=False,
    )
    key = "output_block.1.weight"
    assert torch.equal(load_wav2lip(path, "cpu").model.state_dict()[key], state[key])


def _damaged(state: dict[str, torch.Tensor], how: str) -> dict[str, torch.Tensor]:
    damaged = dict(state)
    if how == "missing":
        del damaged["audio_encoder.3.conv_block.0.weight"]
    elif how == "renamed":
        damaged["face_decoder_blocks.9.weight"] = damaged.pop("output_block.1.weight")
    elif how == "shape":
        damaged["face_encoder_blocks.1.0.conv_block.0.weight"] = torch.zeros(32, 16, 5, 5)
    elif how == "extra":
        damaged["syncnet.face_encoder.0.weight"] = torch.zeros(3)
    elif how == "nan":
        damaged["output_block.1.bias"] = torch.full((3,), float("nan"))
    return damaged


@pytest.mark.parametrize(
    ("how", "key", "words"),
    [
        ("missing", "audio_encoder.3.conv_block.0.weight", "has no weight"),
        ("renamed", "output_block.1.weight", "has no weight"),
        ("shape", "face_encoder_blocks.1.0.conv_block.0.weight", "(32, 16, 5, 5)"),
        ("extra", "syncnet.face_encoder.0.weight", "that the model does not"),
        ("nan", "output_block.1.bias", "NaN"),
    ],
)
def test_a_mismatched_checkpoint_names_its_file_and_first_bad_key(
    tmp_path: Path, state: dict[str, torch.Tensor], how: str, key: str, words: str
) -> None:
    path = save_upstream(tmp_path / f"{how}.pth", _damaged(state, how), prefix="module.")
    loaders = [lambda: check_backend(_settings(path))]
    if how == "renamed":  # the render process's loader says the same
        loaders.append(lambda: load_wav2lip(path, "cpu"))
    for load in loaders:
        with pytest.raises(ConfigError) as caught:
            load()
        message = str(caught.value)
        assert str(path) in message and f"'{key}'" in message and words in message
        assert "render.wav2lip_checkpoint" in message


def test_a_truncated_or_missing_or_foreign_file_is_refused_by_name(
    tmp_path: Path, state: dict[str, torch.Tensor]
) -> None:
    good = save_upstream(tmp_path / "good.pth", state)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    empty = tmp_path / "empty.pth"
    torch.save({"global_step": 3}, empty)
    pickled = tmp_path / "pickled.pth"
    torch.save({"state_dict": state, "hparams": Foreign()}, pickled)
    cases = {
        pickled: "Python objects besides tensors",
        truncated: "not a readable torch checkpoint",
        text: "not a readable torch checkpoint",
        tmp_path / "absent.pth": "no such file",
        empty: "no state_dict",
    }
    for path, words in cases.items():
        with pytest.raises(ConfigError) as caught:
            check_backend(_settings(path))
        assert str(path) in str(caught.value) and words in str(caught.value)


class Foreign:
    """Something a checkpoint may pickle beside its weights, which safe loading refuses."""


def _settings(path: Path, **render: str):
    return load_settings(
        path=None,
        env={},
        overrides={"render": {"backend": "wav2lip", "wav2lip_checkpoint": str(path), **render}},
    )


def test_settings_choose_the_backend_and_the_model_stays_warm(checkpoint: Path) -> None:
    path = checkpoint
    env = {"LIPSYNC_RENDER_BACKEND": "wav2lip", "LIPSYNC_RENDER_WAV2LIP_CHECKPOINT": str(path)}
    settings = load_settings(path=None, env=env)
    assert (settings.render.backend, settings.render.wav2lip_checkpoint) == ("wav2lip", str(path))
    check_backend(settings)
    first = load_generator(settings)
    assert isinstance(first, Wav2LipGenerator) and first.device.type == "cpu"
    assert load_generator(settings) is first  # loaded once per process
    assert load_generator(load_settings(path=None, env={})) is None  # classic
    with pytest.raises(ConfigError, match=r"render\.backend must be one of"):
        load_settings(path=None, env={"LIPSYNC_RENDER_BACKEND": "sadtalker"})
    with pytest.raises(ConfigError, match=r"needs render\.wav2lip_checkpoint"):
        load_settings(path=None, env={"LIPSYNC_RENDER_BACKEND": "wav2lip"})
    with pytest.raises(ConfigError, match=r"render\.device"):
        load_settings(path=None, env={**env, "LIPSYNC_RENDER_DEVICE": "tpu"})
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            check_backend(_settings(path, device="cuda"))


# --- the generator's input and output ----------------------------------------------------


def test_the_model_sees_upstreams_input_bgr_lower_half_masked(
    generator: Wav2LipGenerator,
) -> None:
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    hook = generator.model.register_forward_hook(lambda m, args, out: seen.append(args))
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    references = rng.integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    features = mel_windows(rng.uniform(-0.3, 0.3, 16000).astype(np.float32), 16000, 25.0)
    out = generator.generate(crops, references, features, [0, 4, 24])
    hook.remove()
    mels, faces = seen[0]
    assert out.shape == (3, 96, 96, 3) and out.dtype == np.uint8
    assert faces.shape == (3, 6, 96, 96) and mels.shape == (3, 1, 80, 16)
    bgr = crops[..., ::-1].transpose(0, 3, 1, 2) / 255.0
    assert np.allclose(faces[:, :3, :48].numpy(), bgr[:, :, :48], atol=1e-6)
    assert np.all(faces[:, :3, 48:].numpy() == 0.0)
    assert np.allclose(faces[:, 3:].numpy(), references[..., ::-1].transpose(0, 3, 1, 2) / 255)
    assert np.array_equal(mels[1, 0].numpy(), features.mel[:, 12:28])  # int(4 * 3.2)
    with torch.inference_mode():
        expected = generator.model(mels, faces).permute(0, 2, 3, 1).numpy() * 255.0
    assert np.abs(out.astype(float) - expected[..., ::-1]).max() <= 0.5 + 1e-3  # back to RGB


def test_the_face_box_is_upstreams_brow_to_chin_with_the_mouth_in_the_lower_half(
    generator: Wav2LipGenerator,
) -> None:
    image = cv2.cvtColor(cv2.imread(str(face_photo_path())), cv2.COLOR_BGR2RGB)
    face = find_face(image)
    x0, y0, x1, y1 = generator.face_box(face.landmarks, image.shape[:2])
    lm = face.landmarks
    middle = (y0 + y1) / 2
    assert y0 < lm[[33, 263], 1].min() < middle < lm[[13, 14], 1].min()  # eyes up, mouth down
    assert lm[152, 1] <= y1 <= lm[152, 1] + 0.15 * (y1 - y0)  # the chin, and a little more
    assert x0 <= lm[61, 0] and lm[291, 0] <= x1
    assert 0.8 < (x1 - x0) / (y1 - y0) < 1.2  # about square, as S3FD's boxes are
    nan_elsewhere = np.full_like(lm, np.nan)
    kept = [33, 133, 362, 263, 4]
    nan_elsewhere[kept] = lm[kept]
    assert generator.face_box(nan_elsewhere, image.shape[:2]) == (x0, y0, x1, y1)
