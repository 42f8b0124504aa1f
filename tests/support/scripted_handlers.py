"""Handlers whose behaviour a test scripts through the job's `prompt`, for queue tests.

Loaded into real worker processes through the `workers.plugins` setting, exactly as an
operator's own backend would be. They replace the renderer for all three models so queue,
lease and ledger behaviour can be tested in milliseconds instead of render-seconds:

    ""            finish at once          "sleep:2.5"   work 2.5 s, reporting progress
    "fail"        a user error            "crash"       an unexpected exception
    "die"         the process dies (os._exit), like an out-of-memory kill
    "die-midway"  half an output written, then the process dies
    "stop"        the process stops itself (SIGSTOP), as `kill -STOP` or a debugger would
    "hang"        the process waits forever without reporting progress (a deadlock)
"""

from __future__ import annotations

import os
import signal
import threading
import time

from engine.errors import MediaError
from engine.handlers import HandlerResult, JobContext, JobSpec, register
from engine.media import probe


def scripted(spec: JobSpec, ctx: JobContext) -> HandlerResult:
    prompt = spec.params.get("prompt", "")
    with ctx.stage("rendering"):
        if prompt.startswith("sleep:"):
            total = float(prompt.split(":", 1)[1])
            steps = max(1, int(total / 0.1))
            for i in range(steps):
                time.sleep(total / steps)
                ctx.progress((i + 1) / steps)
        elif prompt == "fail":
            raise MediaError("scripted failure: the audio is unusable")
        elif prompt == "crash":
            raise RuntimeError("scripted crash")
        elif prompt == "die":
            os._exit(3)
        elif prompt == "die-midway":
            spec.output_path.write_bytes(b"\x00\x00\x00\x18ftypisom half a video")
            os._exit(3)
        elif prompt == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        elif prompt == "hang":
            threading.Event().wait()
    with ctx.stage("encoding"):
        spec.output_path.write_bytes(b"not a video: scripted handler output")
    audio = spec.inputs.get("audio") or spec.inputs.get("left_audio")
    seconds = probe(audio).duration if audio else 1.0
    return HandlerResult(output_seconds=float(seconds or 0.0))


for _model in ("lipsync-video", "lipsync-image", "lipsync-image-multi"):
    register(_model)(scripted)
