"""Where MuseTalk 1.5's files lie in `render.musetalk_dir`, and the configs they ship with.

The layout is upstream's `models/` folder as its README and `download_weights.sh` make it,
so a directory downloaded for upstream works here unchanged:

    musetalkV15/musetalk.json + musetalkV15/unet.pth    (TMElyralab/MuseTalk on the Hub)
    sd-vae/config.json + diffusion_pytorch_model.bin      (stabilityai/sd-vae-ft-mse)
    whisper/config.json + pytorch_model.bin + preprocessor_config.json  (openai/whisper-tiny)

Weights may also come as `.safetensors` beside or instead of the `.bin` files. The config
dictionaries below are the real models' (for the manifest and the benchmark, which build
the real-size networks without any download); a render always reads the directory's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

UNET_DIR = "musetalkV15"
UNET_CONFIG = f"{UNET_DIR}/musetalk.json"
UNET_WEIGHTS = f"{UNET_DIR}/unet.pth"
VAE_DIR = "sd-vae"
VAE_CONFIG = f"{VAE_DIR}/config.json"
VAE_WEIGHTS = (
    f"{VAE_DIR}/diffusion_pytorch_model.safetensors",
    f"{VAE_DIR}/diffusion_pytorch_model.bin",
)
WHISPER_DIR = "whisper"
WHISPER_CONFIG = f"{WHISPER_DIR}/config.json"
WHISPER_WEIGHTS = (f"{WHISPER_DIR}/model.safetensors", f"{WHISPER_DIR}/pytorch_model.bin")
WHISPER_PREPROCESSOR = f"{WHISPER_DIR}/preprocessor_config.json"

# musetalkV15/musetalk.json is not in upstream's git repository (it is downloaded from the
# Hub); these numbers are the file of the same name that upstream committed for training
# (train_codes/musetalk.json, commit d73daf1), the configuration `musetalk/models/unet.py`
# builds `UNet2DConditionModel(**config)` from: Stable Diffusion 1.x's UNet with 8 input
# channels (masked + reference latents) and 384-wide cross attention (whisper-tiny).
UNET_REAL_CONFIG: dict[str, Any] = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 384,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 8,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
}

# stabilityai/sd-vae-ft-mse's config.json (scaling_factor is absent there, so diffusers'
# default 0.18215 applies, as it does upstream).
VAE_REAL_CONFIG: dict[str, Any] = {
    "_class_name": "AutoencoderKL",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 256,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}

# openai/whisper-tiny's config.json, the fields that shape the network.
WHISPER_REAL_CONFIG: dict[str, Any] = {
    "model_type": "whisper",
    "d_model": 384,
    "encoder_layers": 4,
    "encoder_attention_heads": 6,
    "encoder_ffn_dim": 1536,
    "decoder_layers": 4,
    "decoder_attention_heads": 6,
    "decoder_ffn_dim": 1536,
    "num_mel_bins": 80,
    "max_source_positions": 1500,
    "max_target_positions": 448,
    "vocab_size": 51865,
    "activation_function": "gelu",
    "scale_embedding": False,
}


@dataclass(frozen=True)
class ModelFiles:
    """The files one model directory provides, weights resolved to the format found."""

    root: Path
    unet_config: Path
    unet_weights: Path
    vae_config: Path
    vae_weights: Path
    whisper_config: Path
    whisper_weights: Path
    whisper_preprocessor: Path


def first_present(root: Path, candidates: tuple[str, ...]) -> Path:
    """The first candidate that exists, else the last one (named in the error as missing)."""
    for name in candidates:
        if (root / name).is_file():
            return root / name
    return root / candidates[-1]


def model_files(root: Path) -> ModelFiles:
    return ModelFiles(
        root=root,
        unet_config=root / UNET_CONFIG,
        unet_weights=root / UNET_WEIGHTS,
        vae_config=root / VAE_CONFIG,
        vae_weights=first_present(root, VAE_WEIGHTS),
        whisper_config=root / WHISPER_CONFIG,
        whisper_weights=first_present(root, WHISPER_WEIGHTS),
        whisper_preprocessor=root / WHISPER_PREPROCESSOR,
    )
