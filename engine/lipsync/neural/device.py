"""`render.device` as torch names it, for every neural model: one rule, one message."""

from __future__ import annotations

from engine.errors import ConfigError


def resolve_device(device: str) -> str:
    """ "auto" is cuda where torch sees a GPU, else cpu; "cuda" without one is refused."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError('render.device is "cuda" but torch sees no CUDA GPU here')
    return device
