"""`make bench` section "neural": Wav2Lip against the classic renderer on this machine.

The same jobs, in the same run, through the same handlers: a 10 s `lipsync-video` dub of a
480p talking-head clip and a 10 s `lipsync-image` portrait at 480p, once with
`render.backend = "classic"` and once with `"wav2lip"`. Seconds of render+encode per
second of output, the model already loaded (it stays warm in a render process; its load
is printed apart), plus the generator's own rate on batches of 96x96 faces.

The weights are random (speed does not depend on their values; no weights ship with the
project), saved and loaded as an upstream checkpoint.
"""

from __future__ import annotations

import time
from pathlib import Path

SECONDS = 10.0


def _settings(root: Path, backend: str, checkpoint: Path):
    from scripts.bench import bench_settings

    return bench_settings(
        root / f"neural-{backend}",
        render={"backend": backend, "wav2lip_checkpoint": str(checkpoint)},
    )


def _render(settings, model: str, inputs: dict[str, Path], out: Path) -> float:
    """Render+encode wall seconds of one job through its registered handler."""
    from scripts.quality import render_local

    return render_local(model, inputs, {"resolution": "480p"}, out, settings)


def _voice(root: Path, text: str, name: str) -> Path:
    """`text` spoken by espeak, repeated with pauses to `SECONDS`, as a 16 kHz WAV."""
    import numpy as np

    from engine.media import load_audio
    from tests.support.espeak_truth import write_wav
    from tests.support.speech import speak

    sentence = load_audio(speak(text, "en", root / f"{name}_one.wav"), sample_rate=16000)
    unit = np.concatenate([sentence.reshape(-1), np.zeros(8000, np.float32)])
    total = int(SECONDS * 16000)
    path = root / f"{name}.wav"
    write_wav(path, np.tile(unit, total // len(unit) + 1)[:total], 16000)
    return path


async def neural_speed(root: Path) -> None:
    import numpy as np
    import torch

    from engine.lipsync.neural import load_generator
    from engine.lipsync.neural.mel import mel_windows
    from engine.lipsync.neural.wav2lip import Wav2Lip
    from tests.support.media import face_photo_path

    checkpoint = root / "wav2lip_random.pth"
    torch.save({"state_dict": Wav2Lip().state_dict(), "global_step": 0}, checkpoint)
    classic = _settings(root, "classic", checkpoint)
    neural = _settings(root, "wav2lip", checkpoint)
    photo = face_photo_path()
    source = root / "neural_source.mp4"
    source_voice = _voice(root, "The quick brown fox jumps over the lazy dog.", "neural_src")
    _render(classic, "lipsync-image", {"image": photo, "audio": source_voice}, source)
    voice = _voice(root, "Bob bought a big map, and Pam put the paper back.", "neural_new")

    started = time.perf_counter()
    generator = load_generator(neural)
    assert generator is not None
    print(
        f"neural wav2lip load: {time.perf_counter() - started:.2f} s "
        f"(36.3 M parameters, {torch.get_num_threads()} torch threads, device cpu)"
    )
    jobs = {
        "lipsync-video": {"video": source, "audio": voice},
        "lipsync-image": {"image": photo, "audio": voice},
    }
    for model, inputs in jobs.items():
        walls = {
            name: _render(settings, model, inputs, root / f"neural_{name}_{model}.mp4")
            for name, settings in (("classic", classic), ("wav2lip", neural))
        }
        print(
            f"neural {model} 480p: classic {walls['classic'] / SECONDS:.3f} s, "
            f"wav2lip {walls['wav2lip'] / SECONDS:.3f} s per second of output "
            f"({SECONDS:.0f} s clip at 25 fps, render+encode, model warm)"
        )

    batch = generator.batch_size
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (batch, 96, 96, 3), dtype=np.uint8)
    features = mel_windows(rng.uniform(-0.3, 0.3, 32000).astype(np.float32), 16000, 25.0)
    generator.generate(crops, crops, features, list(range(batch)))  # warm-up
    started = time.perf_counter()
    rounds = 4
    for _ in range(rounds):
        generator.generate(crops, crops, features, list(range(batch)))
    rate = rounds * batch / (time.perf_counter() - started)
    print(f"neural wav2lip generator alone: {rate:.1f} faces/s (batches of {batch}, cpu)")
