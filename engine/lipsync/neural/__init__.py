"""Neural lipsync backends (`render.backend = "wav2lip" | "musetalk"`), behind one interface.

`load_generator` gives the render process its model, loaded on first use and then kept
warm for every later job of that process; `check_backend` proves at start (`lipsync serve`,
`worker`, `render`) that the configured weights are there and fit the model, so a bad
checkpoint stops the start with a message naming the file and the first bad key instead
of failing (or, worse, rendering with random weights) job after job.

Nothing here imports torch until a neural backend is configured: the classic renderer
pays nothing for their existence. The pipelines around a model (tracking, crops, batching,
blending) are `dub` (lipsync-video) and `portrait` (lipsync-image).
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import ModuleType

from engine.config import RenderSettings, Settings
from engine.errors import ConfigError
from engine.lipsync.neural.device import resolve_device
from engine.lipsync.neural.generator import FaceGenerator

_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str, str], FaceGenerator] = {}


def _key(render: RenderSettings) -> tuple[str, str, str]:
    source = render.wav2lip_checkpoint if render.backend == "wav2lip" else render.musetalk_dir
    return (render.backend, str(Path(source).expanduser()), render.device)


def load_generator(settings: Settings) -> FaceGenerator | None:
    """The configured neural model (loaded once per process), or None for `classic`."""
    render = settings.render
    if render.backend == "classic":
        return None
    key = _key(render)
    with _LOCK:
        generator = _LOADED.get(key)
        if generator is None:
            generator = _load(render)
            _LOADED.clear()  # another configuration's model is not kept beside this one
            _LOADED[key] = generator
    return generator


def _load(render: RenderSettings) -> FaceGenerator:
    if render.backend == "wav2lip":
        if not render.wav2lip_checkpoint:
            raise ConfigError('render.backend = "wav2lip" needs render.wav2lip_checkpoint')
        from engine.lipsync.neural.wav2lip import load_wav2lip

        return load_wav2lip(Path(render.wav2lip_checkpoint).expanduser(), render.device)
    if render.backend == "musetalk":
        if not render.musetalk_dir:
            raise ConfigError('render.backend = "musetalk" needs render.musetalk_dir')
        return _musetalk().load_musetalk(Path(render.musetalk_dir).expanduser(), render.device)
    raise ConfigError(f"render.backend {render.backend!r} is not known")


def check_backend(settings: Settings) -> None:
    """Refuse to start with weights that cannot render (missing, damaged, mismatched, or a
    device torch does not see). Classic needs nothing. Wav2Lip's checkpoint is checked key
    by key without building the model in this process (render processes load it), and
    MuseTalk's directory likewise (`check_musetalk_dir`). `lipsync render` calls
    `load_generator` instead, since it renders in this very process."""
    render = settings.render
    if render.backend == "classic":
        return
    try:
        import torch  # noqa: F401
    except ImportError as exc:  # pragma: no cover - torch is installed by make setup
        raise ConfigError(f"render.backend = {render.backend!r} needs torch: {exc}") from None
    from engine.lipsync.neural.wav2lip import validate_wav2lip

    resolve_device(render.device)
    if render.backend == "wav2lip":
        validate_wav2lip(Path(render.wav2lip_checkpoint).expanduser())
    else:
        _musetalk().check_musetalk_dir(Path(render.musetalk_dir).expanduser())


def _musetalk() -> ModuleType:
    """The MuseTalk package, or the start-time error that says which extra brings it."""
    try:
        from engine.lipsync.neural import musetalk
    except ImportError as exc:
        raise ConfigError(
            'render.backend = "musetalk" needs the musetalk extra'
            f" (pip install 'lipsync-service[musetalk]'): {exc}"
        ) from None
    return musetalk


__all__ = ["FaceGenerator", "check_backend", "load_generator"]
