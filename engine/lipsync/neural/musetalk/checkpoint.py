"""Reading MuseTalk's files and refusing any that do not fit the network exactly.

diffusers and transformers fill weights a checkpoint lacks with fresh random values and only
log a warning, which would render noise with a straight face. So the loaders here never ask
those libraries to read weights: each file is read with torch or safetensors, compared key
by key and shape by shape with the network built from its config, and any difference stops
the start with a `ConfigError` that names the file and the first key that is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError

if TYPE_CHECKING:
    import torch

# The VAE attention of diffusers < 0.14 (sd-vae-ft-mse was saved by 0.4) had other names
# for the same linear layers; diffusers renames them when it loads, and so do we.
_LEGACY_VAE_ATTENTION = re.compile(r"^(.*\.attentions\.\d+)\.(query|key|value|proj_attn)\.(.+)$")
_LEGACY_NAMES = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def read_json(path: Path) -> dict[str, Any]:
    """A config file as a dict, or a ConfigError that says which file and why."""
    if not path.is_file():
        raise ConfigError(f"MuseTalk model file missing: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"MuseTalk model file {path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"MuseTalk model file {path} should hold a JSON object")
    return data


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of a `.safetensors`, `.bin` or `.pth` weights file, on the CPU.

    `.bin`/`.pth` files are opened with `weights_only=True`: a weights file has no business
    running code when it is unpickled.
    """
    import torch

    if not path.is_file():
        raise ConfigError(f"MuseTalk model file missing: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # every reader has its own errors for a damaged file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"MuseTalk model file {path} cannot be read (truncated or damaged?): {reason}"
        ) from None
    if not isinstance(state, Mapping) or not state:
        raise ConfigError(f"MuseTalk model file {path} holds no state dict of weights")
    bad = next((key for key, value in state.items() if not isinstance(value, torch.Tensor)), None)
    if bad is not None:
        raise ConfigError(f"MuseTalk model file {path}: entry {bad!r} is not a tensor")
    return dict(state)


def rename_legacy_vae_keys(state: dict[str, torch.Tensor], expected: Mapping[str, Any]) -> None:
    """Rename old-style VAE attention keys (query/key/value/proj_attn) in place, only where
    the new name is what the network expects and the old one is not."""
    for key in [k for k in state if k not in expected]:
        match = _LEGACY_VAE_ATTENTION.match(key)
        if match is None:
            continue
        new = f"{match[1]}.{_LEGACY_NAMES[match[2]]}.{match[3]}"
        if new in expected and new not in state:
            state[new] = state.pop(key)


def expected_shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    """Every key of the module's state dict with its shape, in the module's order."""
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


def check_state_dict(
    path: Path,
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, tuple[int, ...]],
    prefix: str = "",
) -> None:
    """Raise a ConfigError naming `path` and the first key (in the network's order) that is
    missing, mis-shaped or not a float; then the first key the network has no place for.
    Keys are named as the file names them (`prefix` + the network's name)."""
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    for key, shape in expected.items():
        if key not in state:
            hint = f" (the file has {prefix + unexpected[0]!r} instead?)" if unexpected else ""
            raise ConfigError(
                f"MuseTalk model file {path} does not match the network: key {prefix + key!r} is "
                f"missing{hint}; {len(missing)} missing, {len(unexpected)} unexpected in all"
            )
        found = tuple(state[key].shape)
        if found != shape:
            raise ConfigError(
                f"MuseTalk model file {path} does not match the network: key {prefix + key!r} has "
                f"shape {list(found)}, the network expects {list(shape)}"
            )
        if not state[key].is_floating_point():
            raise ConfigError(
                f"MuseTalk model file {path}: key {prefix + key!r} holds "
                f"{state[key].dtype} values, not floating-point weights"
            )
    if unexpected:
        raise ConfigError(
            f"MuseTalk model file {path} does not match the network: key "
            f"{prefix + unexpected[0]!r} has no place in it ({len(unexpected)} unexpected keys)"
        )


def whisper_encoder_state(
    state: Mapping[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], str]:
    """The encoder's weights from a whisper checkpoint, named as `WhisperEncoder` names them.

    Hub checkpoints are saved from `WhisperForConditionalGeneration` (keys `model.encoder.`),
    `WhisperModel.save_pretrained` writes `encoder.`; the decoder is never run, so only the
    encoder is kept and checked. Also returns the prefix the file uses, for messages.
    """
    prefix = "model.encoder." if any(k.startswith("model.encoder.") for k in state) else "encoder."
    out = {
        key.removeprefix(prefix): value for key, value in state.items() if key.startswith(prefix)
    }
    return out, prefix
