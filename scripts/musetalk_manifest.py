"""Write tests/data/manifests/musetalk.json: every weight of the real MuseTalk 1.5 networks.

    python -m scripts.musetalk_manifest

The manifest is built the way upstream builds the networks, independently of our loader:
`UNet2DConditionModel(**musetalk.json)` (musetalk/models/unet.py), `AutoencoderKL` from
sd-vae-ft-mse's config.json (musetalk/models/vae.py), and `WhisperModel(config).encoder`
of whisper-tiny (upstream loads the whole WhisperModel and calls only its encoder). The
configs are written out below as upstream's files have them, not imported from
`engine.lipsync.neural.musetalk.layout`, so a slip there shows up as a test failure.
Everything is built on the `meta` device: no memory, no download, about three seconds.

Sources of the configs:
- musetalk.json: not in upstream's git tree (the Hub serves musetalkV15/musetalk.json);
  upstream committed the same UNet config as train_codes/musetalk.json (TMElyralab/MuseTalk
  commit d73daf1808e2), and its v1.5 code builds the UNet from a file of that name.
- sd-vae-ft-mse config.json and whisper-tiny config.json: the Hub repositories that
  upstream's download_weights.sh fetches (stabilityai/sd-vae-ft-mse, openai/whisper-tiny);
  only the fields that shape the networks are given, the rest are library defaults.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).resolve().parents[1] / "tests" / "data" / "manifests" / "musetalk.json"
UPSTREAM_COMMIT = "0a89dec45a0192b824e3cf4daf96c239440c5ed8"  # TMElyralab/MuseTalk read here

MUSETALK_JSON = """{
  "_class_name": "UNet2DConditionModel",
  "_diffusers_version": "0.6.0.dev0",
  "act_fn": "silu",
  "attention_head_dim": 8,
  "block_out_channels": [320, 640, 1280, 1280],
  "center_input_sample": false,
  "cross_attention_dim": 384,
  "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                       "CrossAttnDownBlock2D", "DownBlock2D"],
  "downsample_padding": 1,
  "flip_sin_to_cos": true,
  "freq_shift": 0,
  "in_channels": 8,
  "layers_per_block": 2,
  "mid_block_scale_factor": 1,
  "norm_eps": 1e-05,
  "norm_num_groups": 32,
  "out_channels": 4,
  "sample_size": 64,
  "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                     "CrossAttnUpBlock2D"]
}"""

SD_VAE_FT_MSE_JSON = """{
  "_class_name": "AutoencoderKL",
  "_diffusers_version": "0.4.2",
  "act_fn": "silu",
  "block_out_channels": [128, 256, 512, 512],
  "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D",
                       "DownEncoderBlock2D"],
  "in_channels": 3,
  "latent_channels": 4,
  "layers_per_block": 2,
  "norm_num_groups": 32,
  "out_channels": 3,
  "sample_size": 256,
  "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D",
                     "UpDecoderBlock2D"]
}"""

WHISPER_TINY_JSON = """{
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
  "scale_embedding": false
}"""


def shapes(module: Any) -> dict[str, list[int]]:
    return {key: list(value.shape) for key, value in module.state_dict().items()}


def build_manifest() -> dict[str, Any]:
    import diffusers
    import torch
    import transformers
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import WhisperConfig, WhisperModel

    with torch.device("meta"):
        unet = UNet2DConditionModel(**json.loads(MUSETALK_JSON))  # as upstream's UNet class
        vae = AutoencoderKL.from_config(json.loads(SD_VAE_FT_MSE_JSON))
        whisper = WhisperModel(WhisperConfig(**json.loads(WHISPER_TINY_JSON)))
    return {
        "written_by": "scripts/musetalk_manifest.py",
        "upstream": f"TMElyralab/MuseTalk@{UPSTREAM_COMMIT}",
        "libraries": {
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "transformers": transformers.__version__,
        },
        "configs": {
            "musetalkV15/musetalk.json": json.loads(MUSETALK_JSON),
            "sd-vae/config.json": json.loads(SD_VAE_FT_MSE_JSON),
            "whisper/config.json": json.loads(WHISPER_TINY_JSON),
        },
        "scaling_factor": vae.config.scaling_factor,
        "networks": {
            "unet": shapes(unet),
            "vae": shapes(vae),
            "whisper_encoder": shapes(whisper.encoder),
        },
    }


def main() -> int:
    manifest = build_manifest()
    MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest, indent=1)
    # One line per weight: shapes (and other lists of numbers) are written on one line.
    text = re.sub(r"\[[\d,\s.e-]*\]", lambda m: json.dumps(json.loads(m[0])), text)
    MANIFEST.write_text(text + "\n")
    counts = {name: len(keys) for name, keys in manifest["networks"].items()}
    print(f"wrote {MANIFEST}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
