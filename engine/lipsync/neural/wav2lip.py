"""Wav2Lip (Prajwal et al., 2020) as a `FaceGenerator`, loading upstream's own checkpoints.

The generator is an encoder-decoder on 96x96 faces: six input channels (the face with its
lower half blacked out, then a reference of the same face; BGR, as upstream's OpenCV
pipeline fed it, scaled to 0..1), an audio encoder on one 80x16 mel window, and a decoder
with skip connections that draws the whole face back (sigmoid, so 0..1).

Our module is written here, but its parameter names and shapes are upstream's
(`models/wav2lip.py` and `models/conv.py` of Rudrabha/Wav2Lip): a checkpoint saved by
upstream's training (`{"state_dict": ..., "optimizer": ..., "global_step": ...}`, keys with
or without DataParallel's `module.`) loads as is, and a test compares every name and shape
with a manifest written from upstream's own classes (`scripts/model_manifest.py`).

A checkpoint that is missing, unreadable, truncated, of another model or damaged (a key
missing, renamed or of the wrong shape, weights that are not finite) is refused with a
`ConfigError` naming the file and the first bad key, never loaded half or left random.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.errors import ConfigError
from engine.lipsync.neural.device import resolve_device
from engine.lipsync.neural.mel import MelWindows, mel_windows

CROP = 96
# Extra pixels under the detected face box, upstream's default `--pads 0 10 0 0`.
PAD_BOTTOM = 10
SETTING = "render.wav2lip_checkpoint"

# The face box, in eye distances around the point between the eye centres (x along the
# eyes, y down the face): where upstream's S3FD detector puts its box on a frontal face,
# brow to chin and cheek to cheek; see `Wav2LipGenerator.face_box`.
_BOX_HALF_WIDTH = 1.15
_BOX_TOP, _BOX_BOTTOM = -0.75, 1.6
# Eye corners (image-left eye, image-right eye) and the nose tip, MediaPipe mesh indices.
_LEFT_EYE, _RIGHT_EYE, _NOSE_TIP = (33, 133), (362, 263), 4
# A turned head shortens the eye distance but not the face: the box never gets smaller
# than this many nose lengths (eye line to nose tip).
_NOSE_UNITS = 1.55


class Conv(nn.Module):
    """Convolution, batch norm, optional residual, ReLU (upstream's `Conv2d`)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        stride: int | tuple[int, int],
        padding: int,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.Conv2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout)
        )
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        return self.act(out + x if self.residual else out)


class UpConv(nn.Module):
    """Transposed convolution, batch norm, ReLU (upstream's `Conv2dTranspose`)."""

    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int, padding: int, output_padding: int = 0
    ) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel, stride, padding, output_padding),
            nn.BatchNorm2d(cout),
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


def _stage(cin: int, cout: int, stride: int, repeats: int, kernel: int = 3) -> nn.Sequential:
    """A downsampling conv then `repeats` residual convs at the new width."""
    pad = kernel // 2
    layers = [Conv(cin, cout, kernel, stride, pad)]
    layers += [Conv(cout, cout, 3, 1, 1, residual=True) for _ in range(repeats)]
    return nn.Sequential(*layers)


def _up(cin: int, cout: int, repeats: int, *, stride: int = 2) -> nn.Sequential:
    """An upsampling transposed conv then `repeats` residual convs (decoder stage)."""
    if stride == 1:
        first = UpConv(cin, cout, 3, 1, 0)
    else:
        first = UpConv(cin, cout, 3, 2, 1, output_padding=1)
    return nn.Sequential(first, *[Conv(cout, cout, 3, 1, 1, residual=True) for _ in range(repeats)])


class Wav2Lip(nn.Module):
    """The generator. Spatial sizes through the face encoder: 96, 48, 24, 12, 6, 3, 1;
    the decoder concatenates each encoder stage's output on its way back up."""

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList(
            [
                nn.Sequential(Conv(6, 16, 7, 1, 3)),
                _stage(16, 32, 2, 2),
                _stage(32, 64, 2, 3),
                _stage(64, 128, 2, 2),
                _stage(128, 256, 2, 2),
                _stage(256, 512, 2, 1),
                nn.Sequential(Conv(512, 512, 3, 1, 0), Conv(512, 512, 1, 1, 0)),
            ]
        )
        # 80x16 mel window -> 1x1: strides (1,1), (3,1), (3,3), (3,2), then a 3x3 valid conv.
        audio: list[nn.Module] = []
        for cin, cout, stride, repeats in (
            (1, 32, 1, 2),
            (32, 64, (3, 1), 2),
            (64, 128, 3, 2),
            (128, 256, (3, 2), 1),
        ):
            audio.append(Conv(cin, cout, 3, stride, 1))
            audio += [Conv(cout, cout, 3, 1, 1, residual=True) for _ in range(repeats)]
        audio += [Conv(256, 512, 3, 1, 0), Conv(512, 512, 1, 1, 0)]
        self.audio_encoder = nn.Sequential(*audio)
        self.face_decoder_blocks = nn.ModuleList(
            [
                nn.Sequential(Conv(512, 512, 1, 1, 0)),
                _up(1024, 512, 1, stride=1),
                _up(1024, 512, 2),
                _up(768, 384, 2),
                _up(512, 256, 2),
                _up(320, 128, 2),
                _up(160, 64, 2),
            ]
        )
        self.output_block = nn.Sequential(
            Conv(80, 32, 3, 1, 1),
            nn.Conv2d(32, 3, kernel_size=1, stride=1, padding=0),
            nn.Sigmoid(),
        )

    def forward(self, mels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """(B, 1, 80, 16) mel windows and (B, 6, 96, 96) faces -> (B, 3, 96, 96) in 0..1."""
        skips = []
        x = faces
        for block in self.face_encoder_blocks:
            x = block(x)
            skips.append(x)
        x = self.audio_encoder(mels)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), skips.pop()), dim=1)
        return self.output_block(x)


# --- checkpoints -------------------------------------------------------------------------


def read_checkpoint(path: Path, setting: str = SETTING) -> Mapping[str, Any]:
    """The file's state dict (upstream's `{"state_dict": ...}` or a bare one), refusing
    what is not there, not a torch file, or cut short, with the file's name."""
    if not path.is_file():
        raise ConfigError(f"{setting}: no such file {path}")
    try:
        # Safe unpickling (tensors and plain containers only; upstream's checkpoints are
        # exactly that); a zip-format file is memory-mapped rather than read whole.
        data = torch.load(
            path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path)
        )
    except Exception as exc:
        text = str(exc)
        reason = text.strip().splitlines()[0][:200] if text.strip() else ""
        if "Unsupported global" in text:
            raise ConfigError(
                f"{setting}: {path} holds Python objects besides tensors and plain"
                " containers, which are not unpickled (safe loading of weights only); save"
                " its state_dict alone with torch.save"
            ) from None
        if "Weights only load failed" in text:
            reason = ""  # torch's advice about unsafe loading, not what is wrong here
        raise ConfigError(
            f"{setting}: {path} is not a readable torch checkpoint (damaged or cut short?)"
            f" ({type(exc).__name__}{': ' + reason if reason else ''})"
        ) from None
    if isinstance(data, Mapping) and isinstance(data.get("state_dict"), Mapping):
        data = data["state_dict"]
    if not isinstance(data, Mapping) or not any(isinstance(v, torch.Tensor) for v in data.values()):
        raise ConfigError(f"{setting}: {path} holds no state_dict of model weights")
    return data


def check_state(
    state: Mapping[str, Any], expected: Mapping[str, torch.Tensor], path: Path, setting: str
) -> dict[str, torch.Tensor]:
    """`state` with DataParallel's `module.` dropped, if it matches `expected` name for
    name and shape; else a `ConfigError` naming the file and the first key that does not
    (a missing one, in the model's order, before one that is not the model's)."""
    found = {str(k).removeprefix("module."): v for k, v in state.items()}
    for key, want in expected.items():
        have = found.get(key)
        if have is None:
            if key.endswith("num_batches_tracked"):
                continue  # a counter used in training only; old torch did not save it
            raise ConfigError(
                f"{setting}: {path} has no weight '{key}' (a checkpoint of another model,"
                " or a damaged one)"
            )
        if not isinstance(have, torch.Tensor):
            raise ConfigError(f"{setting}: {path}: '{key}' is not a tensor")
        if tuple(have.shape) != tuple(want.shape):
            raise ConfigError(
                f"{setting}: {path}: '{key}' has shape {tuple(have.shape)} where the model"
                f" has {tuple(want.shape)} (a checkpoint of another model or size)"
            )
        if have.is_floating_point() and not bool(torch.isfinite(have).all()):
            raise ConfigError(f"{setting}: {path}: '{key}' holds NaN or infinite values")
    for key in found:
        if key not in expected:
            raise ConfigError(
                f"{setting}: {path} has a weight '{key}' that the model does not (a renamed"
                " key, or a checkpoint of another model)"
            )
    return {k: v for k, v in found.items() if k in expected}


def validate_wav2lip(path: Path) -> None:
    """Check a checkpoint against the model without building it in memory (the API
    process validates at start; render processes load it for real)."""
    with torch.device("meta"):
        expected = Wav2Lip().state_dict()
    check_state(read_checkpoint(path), expected, path, SETTING)


def load_wav2lip(path: Path, device: str = "auto") -> Wav2LipGenerator:
    """The generator with the checkpoint's weights, in eval mode on `device`."""
    where = resolve_device(device)
    # Built without weights (no random init to pay for, none to be left over): every
    # tensor is the checkpoint's, checked name by name and shape by shape first.
    with torch.device("meta"):
        model = Wav2Lip()
    expected = model.state_dict()
    weights = check_state(read_checkpoint(path), expected, path, SETTING)
    for key in expected:
        if key not in weights:  # only `num_batches_tracked` may be absent (check_state)
            weights[key] = torch.zeros((), dtype=torch.long)
    model.load_state_dict(weights, strict=True, assign=True)
    model.eval()
    return Wav2LipGenerator(model, where)


# --- the generator -----------------------------------------------------------------------


def face_box(points: np.ndarray, frame_shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Upstream's box: S3FD's face box (brow to chin, cheek to cheek) with 10 more pixels
    at the bottom, from 478 mesh-indexed points. Built from the skull (eye corners, nose
    tip) rather than the jaw, so it stays still while the source's mouth moves, as
    upstream's five-frame box smoothing makes it."""
    pts = np.asarray(points, np.float64)
    left = pts[list(_LEFT_EYE)].mean(axis=0)
    right = pts[list(_RIGHT_EYE)].mean(axis=0)
    middle = (left + right) / 2.0
    across = right - left
    distance = float(np.hypot(*across))
    axis = across / max(distance, 1e-6)
    down = np.array([-axis[1], axis[0]])
    nose = float((pts[_NOSE_TIP] - middle) @ down)
    unit = max(distance, _NOSE_UNITS * nose, 1.0)
    corners = np.array(
        [
            middle + axis * sx * unit + down * sy * unit
            for sx in (-_BOX_HALF_WIDTH, _BOX_HALF_WIDTH)
            for sy in (_BOX_TOP, _BOX_BOTTOM)
        ]
    )
    height, width = frame_shape[:2]
    x0 = max(0, math.floor(corners[:, 0].min()))
    y0 = max(0, math.floor(corners[:, 1].min()))
    x1 = min(width, math.ceil(corners[:, 0].max()))
    y1 = min(height, math.ceil(corners[:, 1].max()) + PAD_BOTTOM)
    return x0, y0, x1, y1


class Wav2LipGenerator:
    """`FaceGenerator` for Wav2Lip: upstream's crops, features, batches and colours."""

    name = "wav2lip"
    crop_size = CROP
    key_points_suffice = True  # the box comes from eye corners and the nose tip

    def __init__(self, model: Wav2Lip, device: str) -> None:
        self.device = torch.device(device)
        self.half = self.device.type == "cuda"
        self.batch_size = 64 if self.half else 16
        model = model.to(self.device)
        self.model = model.half() if self.half else model.float()

    def face_box(
        self, points: np.ndarray, frame_shape: tuple[int, int]
    ) -> tuple[int, int, int, int]:
        return face_box(points, frame_shape)

    def speech_features(
        self, samples: np.ndarray, sample_rate: int, fps: float, frames: int
    ) -> MelWindows:
        return mel_windows(samples, sample_rate, fps)

    def generate(
        self, crops: np.ndarray, references: np.ndarray, features: Any, frames: list[int]
    ) -> np.ndarray:
        """Upstream's inference on one batch: lower half of each (BGR) crop zeroed, the
        reference beside it, 0..1; the output is the model's 0..1 face times 255."""
        assert isinstance(features, MelWindows)
        bgr = np.ascontiguousarray(crops[..., ::-1])
        reference = np.ascontiguousarray(references[..., ::-1])
        masked = bgr.copy()
        masked[:, CROP // 2 :] = 0
        faces = np.concatenate([masked, reference], axis=3).astype(np.float32) / 255.0
        dtype = torch.float16 if self.half else torch.float32
        face_t = torch.from_numpy(faces).permute(0, 3, 1, 2).to(self.device, dtype)
        mel_t = torch.from_numpy(features.windows(frames)).to(self.device, dtype)
        with torch.inference_mode():
            out = self.model(mel_t, face_t)
        drawn = out.float().permute(0, 2, 3, 1).cpu().numpy() * 255.0
        # Upstream casts with astype(uint8), truncating; rounding is the same picture.
        return np.clip(drawn + 0.5, 0, 255).astype(np.uint8)[..., ::-1].copy()
