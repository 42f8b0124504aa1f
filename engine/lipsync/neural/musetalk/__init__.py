"""MuseTalk 1.5 (TMElyralab, MIT): real-time latent-inpainting lipsync at 256 x 256.

`load_musetalk` reads upstream's model directory (see `layout`), refuses any file that is
missing, damaged or does not fit the network with a `ConfigError` naming the file and the
first bad key, and returns a warm `FaceGenerator`. diffusers, transformers and torch are
imported only here, inside the functions, so the engine runs without the `[musetalk]` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ConfigError
from engine.lipsync.neural.device import resolve_device

from .face_box import musetalk_face_box
from .layout import ModelFiles, model_files

if TYPE_CHECKING:
    from .generator import MuseTalkGenerator

__all__ = ["check_musetalk_dir", "load_musetalk", "musetalk_face_box"]

# Frames per forward pass: upstream's realtime default on a GPU; on the CPU a batch only
# adds latency, the cores are busy either way.
BATCH_SIZE = {"cuda": 20, "cpu": 4}


def _require_extra() -> None:
    try:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"render.backend 'musetalk' needs diffusers, transformers and torch ({exc.name} "
            "is missing): pip install '.[musetalk]'"
        ) from None


def _files(model_dir: Path) -> ModelFiles:
    root = Path(model_dir)
    if not root.is_dir():
        raise ConfigError(
            f"render.musetalk_dir {root} is not a directory: it should hold upstream's "
            "musetalkV15/, sd-vae/ and whisper/ folders"
        )
    return model_files(root)


def _device(device: str) -> str:
    device = resolve_device(device)
    if device not in BATCH_SIZE:
        raise ConfigError(f"render.device for MuseTalk must be 'cpu' or 'cuda', not {device!r}")
    return device


def load_musetalk(model_dir: Path, device: str) -> MuseTalkGenerator:
    """The warm model, fp16 on 'cuda' and fp32 on 'cpu'; every file checked on the way."""
    _require_extra()
    device = _device(device)
    files = _files(model_dir)
    from .audio import load_feature_extractor
    from .checkpoint import read_json
    from .generator import MuseTalkGenerator
    from .model import load_unet, load_vae, load_whisper_encoder

    unet = load_unet(read_json(files.unet_config), files.unet_config, files.unet_weights)
    vae = load_vae(read_json(files.vae_config), files.vae_config, files.vae_weights)
    whisper_config = read_json(files.whisper_config)
    encoder = load_whisper_encoder(whisper_config, files.whisper_config, files.whisper_weights)
    extractor = load_feature_extractor(
        files.whisper_preprocessor, encoder.config.num_mel_bins, encoder.config.max_source_positions
    )
    return MuseTalkGenerator(unet, vae, encoder, extractor, device, BATCH_SIZE[device])


def check_musetalk_dir(model_dir: Path) -> None:
    """Validate a model directory as `load_musetalk` would, without keeping the networks.

    The weights are read (there is no cheaper way to know that a file is whole and every
    tensor has its shape), compared with networks built on the `meta` device, and dropped.
    """
    _require_extra()
    files = _files(model_dir)
    from .audio import load_feature_extractor
    from .checkpoint import (
        check_state_dict,
        expected_shapes,
        read_json,
        read_state_dict,
        rename_legacy_vae_keys,
        whisper_encoder_state,
    )
    from .model import unet_on_meta, vae_on_meta, whisper_encoder_on_meta

    unet = unet_on_meta(read_json(files.unet_config), files.unet_config)
    check_state_dict(files.unet_weights, read_state_dict(files.unet_weights), expected_shapes(unet))
    vae = vae_on_meta(read_json(files.vae_config), files.vae_config)
    state = read_state_dict(files.vae_weights)
    rename_legacy_vae_keys(state, expected_shapes(vae))
    check_state_dict(files.vae_weights, state, expected_shapes(vae))
    encoder = whisper_encoder_on_meta(read_json(files.whisper_config), files.whisper_config)
    state, prefix = whisper_encoder_state(read_state_dict(files.whisper_weights))
    check_state_dict(files.whisper_weights, state, expected_shapes(encoder), prefix)
    load_feature_extractor(
        files.whisper_preprocessor, encoder.config.num_mel_bins, encoder.config.max_source_positions
    )
