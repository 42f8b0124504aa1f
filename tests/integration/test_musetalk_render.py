"""A `lipsync-video` job rendered by MuseTalk 1.5 through the real job pipeline.

The model is tiny and random (tests/support/musetalk_model.py) but loaded from upstream's
directory layout by a real render process, exactly as a downloaded one would be: the job
goes through `Service.submit`, a worker, the dubbing pipeline's tracking, MuseTalk's box,
whisper features, latent inpainting and the paste back. Random weights draw no mouth, just
something else: so the test asserts where the pixels changed, not what they show.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from engine.job_request import JobRequest
from engine.lipsync.faces import find_face
from engine.lipsync.neural import check_backend
from engine.service import Service
from tests.conftest import make_settings
from tests.support.dubbing import FACE_FRAMES, SIZE, make_source
from tests.support.media import decode_mp4
from tests.support.musetalk_model import write_tiny_musetalk
from tests.support.speech import speak

pytestmark = pytest.mark.slow


async def test_a_video_job_renders_with_musetalk_and_changes_only_the_lower_face(
    tmp_path: Path,
) -> None:
    models = write_tiny_musetalk(tmp_path / "models")
    source = make_source(tmp_path)
    voice = speak("Bob bought a big map.", "en", tmp_path / "voice.wav")
    settings = make_settings(
        tmp_path / "data",
        workers={"plugins": []},
        render={"backend": "musetalk", "musetalk_dir": str(models), "device": "cpu"},
    )
    service = await Service.open(settings)
    try:
        account = (await service.create_api_key("k", 1000)).key.account_id
        await service.start_workers()
        job = await service.submit(
            account,
            JobRequest(model="lipsync-video", inputs={"video": str(source), "audio": str(voice)}),
            local_dirs=[tmp_path],
        )
        done = await service.wait(job.id, timeout=300)
        assert done.status == "completed", done.error
        output = service.output_path(done)
        assert output is not None
        frames, info = decode_mp4(output)
    finally:
        await service.close()

    assert info["codec"] == "h264" and info["audio_codec"] == "aac"
    assert info["size"] == SIZE and info["fps"] == 25.0
    voice_seconds = av.open(str(voice)).duration / 1e6
    assert abs(len(frames) - voice_seconds * 25) <= 1

    with av.open(str(source)) as container:
        originals = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    faces = np.stack(originals[:FACE_FRAMES]).astype(np.int16)
    mesh = find_face(originals[0]).landmarks  # the head does not move in the source
    lips = mesh[[61, 291, 0, 17]]
    (mx0, my0), (mx1, my1) = lips.min(0).astype(int), lips.max(0).astype(int)
    eyes = mesh[[33, 133, 362, 263, 159, 386]]
    (ex0, ey0), (ex1, ey1) = eyes.min(0).astype(int) - 4, eyes.max(0).astype(int) + 4

    redrawn = 0
    for frame in frames:
        if np.abs(frame.astype(np.int16) - originals[-1]).mean() < 3:
            continue  # one of the face-less frames the job leaves alone
        # The eyes are the source's (any face frame: only the mouth moves there) ...
        eye_diff = np.abs(frame[ey0:ey1, ex0:ex1] - faces[:, ey0:ey1, ex0:ex1]).mean((1, 2, 3))
        assert eye_diff.min() < 4, eye_diff.min()
        # ... the mouth is none of the source's mouths: the model drew it.
        mouth_diff = np.abs(frame[my0:my1, mx0:mx1] - faces[:, my0:my1, mx0:mx1]).mean((1, 2, 3))
        if mouth_diff.min() > 12:
            redrawn += 1
    assert redrawn >= 0.8 * FACE_FRAMES, redrawn


def test_a_damaged_model_stops_the_start_naming_file_and_key(tmp_path: Path) -> None:
    """`check_backend` (run by serve, worker and render before anything else) refuses it."""
    models = write_tiny_musetalk(tmp_path / "models")
    unet = models / "musetalkV15" / "unet.pth"
    state = torch.load(unet, weights_only=True)
    state.pop("conv_out.bias")
    torch.save(state, unet)
    settings = make_settings(
        tmp_path / "data",
        render={"backend": "musetalk", "musetalk_dir": str(models), "device": "cpu"},
    )
    with pytest.raises(ConfigError) as caught:
        check_backend(settings)
    assert str(unet) in str(caught.value) and "'conv_out.bias'" in str(caught.value)
