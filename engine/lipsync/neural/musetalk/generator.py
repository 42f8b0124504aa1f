"""MuseTalk 1.5 as a `FaceGenerator`: latent inpainting of the lower half of a 256 px face.

One step, as upstream's `scripts/inference.py` runs it: each crop is encoded twice by the
VAE, once with its lower half blacked out (the half the model redraws) and once whole as
the reference; the two latents (4 x 32 x 32 each, times the VAE's scaling factor 0.18215)
are concatenated in that order, masked first, into the UNet's 8 input channels; the UNet
runs once at timestep 0 with the frame's audio tokens as cross-attention context, and its
4-channel output, divided by the scaling factor, is decoded by the VAE into the new face.

Colour: upstream reads frames with OpenCV (BGR), converts each crop to RGB before the VAE
and flips the decoded RGB back to BGR for OpenCV. The network therefore sees and gives RGB,
which is what our crops already are, so no channel is swapped here.

One deliberate difference: upstream encodes with `latent_dist.sample()`, a random draw
around the VAE's mean; we take the mean (`latent_dist.mode()`), as upstream's training
(`train.py`) does, so that the same input renders the same frames every time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .audio import MuseTalkSpeech, encode_speech
from .face_box import musetalk_face_box

CROP_SIZE = 256


class MuseTalkGenerator:
    """The three networks on one device, fp16 on CUDA and fp32 on the CPU as upstream runs
    them with and without `--use_float16`."""

    name = "musetalk"
    crop_size = CROP_SIZE
    # The box needs only landmarks the video tracker keeps (see face_box.BOX_LANDMARKS).
    key_points_suffice = True

    def __init__(
        self, unet: Any, vae: Any, encoder: Any, extractor: Any, device: str, batch_size: int
    ) -> None:
        import torch

        self.device = torch.device(device)
        self.dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        # torch's own `to`: diffusers' override only adds a warning about fp32 modules these
        # networks do not have, once per model and process.
        self.unet = torch.nn.Module.to(unet, self.device, self.dtype)
        self.vae = torch.nn.Module.to(vae, self.device, self.dtype)
        self.encoder = torch.nn.Module.to(encoder, self.device, self.dtype)
        self.extractor = extractor
        self.batch_size = batch_size
        self.scaling_factor = float(vae.config.scaling_factor)
        self.timestep = torch.zeros(1, dtype=torch.long, device=self.device)

    def face_box(
        self, points: np.ndarray, frame_shape: tuple[int, int]
    ) -> tuple[int, int, int, int]:
        return musetalk_face_box(points, frame_shape)

    def speech_features(
        self, samples: np.ndarray, sample_rate: int, fps: float, frames: int
    ) -> MuseTalkSpeech:
        return encode_speech(
            self.encoder,
            self.extractor,
            samples,
            sample_rate,
            fps,
            frames,
            self.device,
            self.dtype,
        )

    def generate(
        self, crops: np.ndarray, references: np.ndarray, features: Any, frames: list[int]
    ) -> np.ndarray:
        import torch

        side = self.crop_size
        expected = (len(frames), side, side, 3)
        for what, images in (("crops", crops), ("references", references)):
            if images.shape != expected or images.dtype != np.uint8:
                raise ValueError(
                    f"{what} must be uint8 {expected}, got {images.dtype} {images.shape}"
                )
        if not isinstance(features, MuseTalkSpeech):
            raise TypeError("features must come from this model's speech_features")
        if not frames:
            return np.zeros((0, side, side, 3), np.uint8)
        with torch.inference_mode():
            audio = features.tokens(frames).to(self.device, self.dtype)
            face = self._to_unit(crops)
            masked = face.clone()
            masked[:, :, side // 2 :, :] = 0.0  # upstream's mask keeps rows < 128
            latents = torch.cat([self._encode(masked), self._encode(self._to_unit(references))], 1)
            predicted = self.unet(latents, self.timestep, encoder_hidden_states=audio).sample
            image = self.vae.decode(predicted / self.scaling_factor).sample
            image = (image / 2 + 0.5).clamp(0, 1)
            out = (image.permute(0, 2, 3, 1).float() * 255).round().to(torch.uint8)
        return out.cpu().numpy()

    def _to_unit(self, images: np.ndarray) -> Any:
        """uint8 (B, H, W, 3) -> (B, 3, H, W) in [0, 1] on the device."""
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(images)).to(self.device)
        return tensor.permute(0, 3, 1, 2).to(torch.float32) / 255.0

    def _encode(self, unit: Any) -> Any:
        """[0, 1] pixels -> scaled VAE latents; normalised to [-1, 1] as upstream does."""
        pixels = ((unit - 0.5) / 0.5).to(self.dtype)
        return self.vae.encode(pixels).latent_dist.mode() * self.scaling_factor
