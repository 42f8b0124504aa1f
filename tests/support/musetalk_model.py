"""A MuseTalk 1.5 model directory with tiny random networks, in upstream's layout and formats.

The classes are the real ones (diffusers' UNet2DConditionModel and AutoencoderKL,
transformers' WhisperModel and WhisperFeatureExtractor) with small widths, so loading,
validation and a whole render run on a CPU in seconds. What must match the real model does:
the UNet takes 8 channels to 4 with 384-wide cross attention, the VAE has 4 latent channels
and shrinks 256 px by 8, whisper is 384 wide and reads the standard 80 x 3000 log-mel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TINY_UNET: dict[str, Any] = {
    "_class_name": "UNet2DConditionModel",
    "sample_size": 32,
    "in_channels": 8,
    "out_channels": 4,
    "block_out_channels": [32, 64],
    "layers_per_block": 1,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "cross_attention_dim": 384,
    "attention_head_dim": 8,
    "norm_num_groups": 32,
}
TINY_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "block_out_channels": [16, 16, 32, 32],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "layers_per_block": 1,
    "norm_num_groups": 16,
    "sample_size": 256,
}
TINY_WHISPER: dict[str, Any] = {
    "d_model": 384,
    "encoder_layers": 2,
    "encoder_attention_heads": 2,
    "encoder_ffn_dim": 128,
    "decoder_layers": 1,
    "decoder_attention_heads": 2,
    "decoder_ffn_dim": 64,
    "num_mel_bins": 80,
    "max_source_positions": 1500,
    "max_target_positions": 32,
    "vocab_size": 64,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "decoder_start_token_id": 1,
    "suppress_tokens": [],
    "begin_suppress_tokens": [],
}


def write_tiny_musetalk(root: Path, seed: int = 0) -> Path:
    """Write `root` as upstream's `models/` folder (the parts MuseTalk 1.5 reads) with
    random weights drawn from `seed`: musetalkV15/{musetalk.json, unet.pth} saved as
    upstream's training saves them (`torch.save(unet.state_dict())`), sd-vae/ and whisper/
    saved by their libraries' `save_pretrained` in the `.bin` names of the Hub downloads."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    torch.manual_seed(seed)
    (root / "musetalkV15").mkdir(parents=True, exist_ok=True)
    unet = UNet2DConditionModel.from_config(TINY_UNET)
    (root / "musetalkV15" / "musetalk.json").write_text(json.dumps(TINY_UNET, indent=2))
    torch.save(unet.state_dict(), root / "musetalkV15" / "unet.pth")

    vae = AutoencoderKL.from_config(TINY_VAE)
    vae.save_pretrained(root / "sd-vae", safe_serialization=False)

    whisper = WhisperModel(WhisperConfig(**TINY_WHISPER))
    whisper.save_pretrained(root / "whisper")
    # The Hub's whisper-tiny holds `pytorch_model.bin` saved from the generation model,
    # its keys prefixed `model.`; write that form, as `download_weights.sh` fetches it.
    state = {f"model.{key}": value for key, value in whisper.state_dict().items()}
    torch.save(state, root / "whisper" / "pytorch_model.bin")
    for extra in root.joinpath("whisper").glob("*.safetensors"):
        extra.unlink()
    WhisperFeatureExtractor(feature_size=80).save_pretrained(root / "whisper")
    return root
