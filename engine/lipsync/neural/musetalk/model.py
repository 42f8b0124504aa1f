"""MuseTalk's three networks, built from their configs and filled from their checkpoints.

The classes are upstream's: diffusers' `UNet2DConditionModel` and `AutoencoderKL`, and
transformers' whisper encoder (upstream loads the whole `WhisperModel` and only ever calls
`.encoder`, so the decoder is not built here). Each network is first built on the `meta`
device (no memory, no random init), its expected keys and shapes are compared with the
checkpoint (`checkpoint.check_state_dict`), and only then are the checkpoint's tensors
assigned to it, so a network can never run with a weight the file did not provide.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError

from .checkpoint import (
    check_state_dict,
    expected_shapes,
    read_state_dict,
    rename_legacy_vae_keys,
    whisper_encoder_state,
)

if TYPE_CHECKING:
    import torch

# Width of whisper-tiny's features, the UNet's cross-attention width, and of the sinusoidal
# positional encoding upstream adds to the audio tokens (`PositionalEncoding(d_model=384)`).
AUDIO_WIDTH = 384
_PE_MAX_LEN = 5000
# AutoencoderKL's default latent scale, which sd-vae-ft-mse's config leaves unset.
SD_VAE_SCALING_FACTOR = 0.18215


def _construct(kind: str, config_path: Path, build: Any) -> Any:
    """Run a constructor on the meta device; a config it rejects is the config file's fault."""
    import torch

    try:
        with torch.device("meta"):
            return build()
    except Exception as exc:
        raise ConfigError(
            f"MuseTalk model file {config_path} is not a valid {kind} config: {exc}"
        ) from None


def unet_on_meta(config: dict[str, Any], config_path: Path) -> Any:
    from diffusers import UNet2DConditionModel

    unet = _construct(
        "UNet2DConditionModel", config_path, lambda: UNet2DConditionModel.from_config(config)
    )
    in_channels, out_channels = unet.config.in_channels, unet.config.out_channels
    cross = unet.config.cross_attention_dim
    if (in_channels, out_channels, cross) != (8, 4, AUDIO_WIDTH):
        raise ConfigError(
            f"MuseTalk model file {config_path} describes a UNet with in_channels="
            f"{in_channels}, out_channels={out_channels}, cross_attention_dim={cross}; "
            f"MuseTalk's takes 8 -> 4 channels and {AUDIO_WIDTH}-wide audio"
        )
    return unet


def vae_on_meta(config: dict[str, Any], config_path: Path) -> Any:
    from diffusers import AutoencoderKL

    vae = _construct("AutoencoderKL", config_path, lambda: AutoencoderKL.from_config(config))
    if vae.config.latent_channels != 4 or vae.config.in_channels != 3:
        raise ConfigError(
            f"MuseTalk model file {config_path} describes a VAE with "
            f"{vae.config.in_channels} image and {vae.config.latent_channels} latent "
            "channels; MuseTalk's has 3 and 4"
        )
    return vae


def whisper_encoder_on_meta(config: dict[str, Any], config_path: Path) -> Any:
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    def build() -> Any:
        return WhisperEncoder(WhisperConfig.from_dict(config))

    encoder = _construct("whisper", config_path, build)
    if encoder.config.d_model != AUDIO_WIDTH:
        raise ConfigError(
            f"MuseTalk model file {config_path} describes a whisper of width "
            f"{encoder.config.d_model}; MuseTalk's UNet listens to whisper-tiny ({AUDIO_WIDTH})"
        )
    return encoder


def fill(module: Any, path: Path, state: dict[str, torch.Tensor], prefix: str = "") -> Any:
    """Check `state` against the module built on meta, then give the module its tensors."""
    import torch

    check_state_dict(path, state, expected_shapes(module), prefix)
    module.load_state_dict(state, strict=True, assign=True)
    left = [name for name, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if left:  # a buffer outside the state dict: nothing in the file to fill it from
        raise ConfigError(f"MuseTalk model file {path} leaves {left[0]!r} unset")
    return torch.nn.Module.to(module, torch.float32).eval().requires_grad_(False)


def load_unet(config: dict[str, Any], config_path: Path, weights: Path) -> Any:
    return fill(unet_on_meta(config, config_path), weights, read_state_dict(weights))


def load_vae(config: dict[str, Any], config_path: Path, weights: Path) -> Any:
    vae = vae_on_meta(config, config_path)
    state = read_state_dict(weights)
    rename_legacy_vae_keys(state, expected_shapes(vae))
    return fill(vae, weights, state)


def load_whisper_encoder(config: dict[str, Any], config_path: Path, weights: Path) -> Any:
    encoder = whisper_encoder_on_meta(config, config_path)
    state, prefix = whisper_encoder_state(read_state_dict(weights))
    return fill(encoder, weights, state, prefix)


def positional_encoding(length: int, width: int = AUDIO_WIDTH) -> torch.Tensor:
    """(1, length, width) sinusoidal encoding of "Attention is all you need": sines on even
    channels, cosines on odd ones, wavelengths from 2*pi to 10000*2*pi. Upstream adds this
    to every frame's 50 audio tokens (it has no weights, so it is not in any checkpoint)."""
    import torch

    if not 0 < length <= _PE_MAX_LEN:
        raise ValueError(f"positional encoding length must be 1..{_PE_MAX_LEN}, not {length}")
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * -(math.log(1e4) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table[None]
