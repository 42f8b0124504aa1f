"""MuseTalk 1.5's speed: frames per second of `generate` with real-size random weights.

    python -m scripts.bench_musetalk                  cuda if torch sees one, else cpu
    python -m scripts.bench_musetalk cpu --frames 4

The networks are the real ones (the UNet of musetalkV15/musetalk.json, sd-vae-ft-mse's VAE,
whisper-tiny's encoder) built from the configs in `layout` with random weights, so no
download is needed; speed does not depend on the weights' values. fp16 on CUDA, fp32 on
the CPU, exactly as `load_musetalk` would run them. A frame is one full step: two VAE
encodes (masked face and reference), the UNet, one VAE decode; whisper runs once per job
and is timed apart. Upstream reports 30 fps+ on a V100 in fp16.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.lipsync.neural.musetalk.generator import MuseTalkGenerator


@dataclass(frozen=True)
class MuseTalkSpeed:
    device: str
    batch_size: int
    frames: int
    fps: float  # generate() frames per second, after warm-up
    speech_seconds_per_minute: float  # whisper features for one minute of speech

    def lines(self) -> list[str]:
        return [
            f"musetalk {self.device} batch {self.batch_size}: {self.fps:.2f} frames/s "
            f"({1 / self.fps:.3f} s/frame over {self.frames} frames)",
            f"musetalk {self.device} whisper: {self.speech_seconds_per_minute:.2f} s "
            "per minute of speech",
        ]


def random_generator(device: str, batch_size: int | None = None) -> MuseTalkGenerator:
    """A `MuseTalkGenerator` with the real networks, randomly initialised on `device`."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import WhisperConfig, WhisperFeatureExtractor
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    from engine.lipsync.neural.musetalk import BATCH_SIZE
    from engine.lipsync.neural.musetalk.generator import MuseTalkGenerator
    from engine.lipsync.neural.musetalk.layout import (
        UNET_REAL_CONFIG,
        VAE_REAL_CONFIG,
        WHISPER_REAL_CONFIG,
    )

    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel.from_config(UNET_REAL_CONFIG).eval()
        vae = AutoencoderKL.from_config(VAE_REAL_CONFIG).eval()
        encoder = WhisperEncoder(WhisperConfig.from_dict(WHISPER_REAL_CONFIG)).eval()
    extractor = WhisperFeatureExtractor(feature_size=80)
    return MuseTalkGenerator(
        unet, vae, encoder, extractor, device, batch_size or BATCH_SIZE[device]
    )


def musetalk_fps(
    device: str, frames: int = 200, batch_size: int | None = None, fps: float = 25.0
) -> MuseTalkSpeed:
    """Time `generate` over `frames` frames (plus one warm-up batch) on `device`."""
    import torch

    generator = random_generator(device, batch_size)
    batch = generator.batch_size
    rng = np.random.default_rng(0)
    seconds = max(frames / fps, 30.0)  # whisper's window: a shorter clip costs the same
    samples = (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    start = time.perf_counter()
    features = generator.speech_features(samples, 16000, fps, frames + batch)
    sync()
    speech = (time.perf_counter() - start) / seconds * 60
    side = generator.crop_size
    crops = rng.integers(0, 256, (batch, side, side, 3), dtype=np.uint8)
    generator.generate(crops, crops, features, list(range(batch)))  # warm-up
    sync()
    start = time.perf_counter()
    done = 0
    while done < frames:
        n = min(batch, frames - done)
        generator.generate(crops[:n], crops[:n], features, list(range(done, done + n)))
        done += n
    sync()
    elapsed = time.perf_counter() - start
    return MuseTalkSpeed(device, batch, frames, frames / elapsed, speech)


async def musetalk_speed(root: Path) -> None:
    """`make bench` section: MuseTalk 1.5 frames per second with real-size random weights,
    on the GPU when torch sees one (fp16, 200 frames), else a few frames on the CPU."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    frames = 200 if device == "cuda" else 4
    speed = await asyncio.to_thread(musetalk_fps, device, frames)
    for line in speed.lines():
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("device", nargs="?", choices=("cpu", "cuda"))
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args(argv)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    frames = args.frames or (200 if device == "cuda" else 4)
    for line in musetalk_fps(device, frames, args.batch_size).lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
