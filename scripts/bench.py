"""`make bench`: the figures that matter, printed (never asserted in tests).

    python -m scripts.bench              every section
    python -m scripts.bench queue ledger only those

Sections register themselves in SECTIONS; each prints its own lines.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from engine import ledger
from engine.config import Settings, load_settings
from engine.job_request import JobRequest
from engine.service import Service
from scripts.bench_musetalk import musetalk_speed
from scripts.bench_neural import neural_speed
from scripts.bench_ray import ray_vs_local

SECTIONS: dict[str, Callable[[Path], Awaitable[None]]] = {}


def section(name: str) -> Callable:
    def register(fn: Callable[[Path], Awaitable[None]]) -> Callable[[Path], Awaitable[None]]:
        SECTIONS[name] = fn
        return fn

    return register


def bench_settings(root: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {"data_dir": str(root / "data")}
    base.update(overrides)
    return load_settings(path=None, env={}, overrides=base)


@section("queue")
async def queue_throughput(root: Path) -> None:
    from tests.support.media import write_png, write_tone_wav

    jobs_n = 200
    picture = write_png(root / "p.png")
    tone = write_tone_wav(root / "t.wav", 1.0)
    for slots in (1, 2):
        settings = bench_settings(
            root / f"q{slots}",
            workers={
                "count": slots,
                "poll_seconds": 0.01,
                "plugins": ["tests.support.scripted_handlers"],
            },
        )
        service = await Service.open(settings)
        try:
            account = (await service.create_api_key("bench", 10 * jobs_n)).key.account_id
            request = JobRequest(
                model="lipsync-image", inputs={"image": str(picture), "audio": str(tone)}
            )
            started = time.perf_counter()
            ids = []
            for _ in range(jobs_n):
                ids.append((await service.submit(account, request, local_dirs=[root])).id)
            submitted = time.perf_counter() - started
            await service.start_workers()
            run_started = time.perf_counter()
            for job_id in ids:
                job = await service.wait(job_id, timeout=300, poll_seconds=0.01)
                assert job.status == "completed", job.error
            completed = time.perf_counter() - run_started
        finally:
            await service.close()
        print(
            f"queue  {slots} worker(s): submit {jobs_n / submitted:7.1f} jobs/s "
            f"(fetch+probe+reserve), complete {jobs_n / completed:7.1f} jobs/s "
            "(claim+run no-op+charge)"
        )


@section("ledger")
async def ledger_ops(root: Path) -> None:
    settings = bench_settings(root / "ledger")
    service = await Service.open(settings)
    try:
        account = (await service.create_api_key("bench", 10**9)).key.account_id
        n = 2000
        started = time.perf_counter()
        for i in range(n):
            async with service.db.write() as conn:
                await ledger.reserve(conn, account, f"job-{i}", 10)
            async with service.db.write() as conn:
                await ledger.settle_charge(conn, account, f"job-{i}", 10, 8)
        elapsed = time.perf_counter() - started
        print(
            f"ledger {2 * n / elapsed:7.0f} entries/s (each its own transaction, WAL, "
            "synchronous=NORMAL)"
        )
    finally:
        await service.close()


def _long_voice(root: Path, seconds: float) -> Path:
    """espeak speech repeated (with pauses) to `seconds`, as a 16 kHz WAV."""
    import wave

    import numpy as np

    from tests.support.speech import speak

    sentence = speak(
        "The quick brown fox jumps over the lazy dog, and Bob bought a big map.",
        "en",
        root / "sentence.wav",
    )
    with wave.open(str(sentence)) as f:
        rate = f.getframerate()
        one = np.frombuffer(f.readframes(f.getnframes()), "<i2")
    pause = np.zeros(rate // 2, "<i2")
    unit = np.concatenate([one, pause])
    total = int(seconds * rate)
    samples = np.tile(unit, total // len(unit) + 1)[:total]
    path = root / f"voice_{int(seconds)}s.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def _render_subprocess(args: list[str]) -> tuple[float, float]:
    """Run `lipsync render ...` in a child; returns (wall seconds, child peak RSS in MiB)."""
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cli.main", "render", *args], check=True, capture_output=True
    )
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


@section("render")
async def render_speed(root: Path) -> None:
    """Portrait render+encode speed for a 30 s clip, and peak memory for 10 minutes at 720p."""
    from tests.support.media import face_photo_path

    photo = str(face_photo_path())
    voice = _long_voice(root, 30.0)
    for resolution in ("480p", "720p"):
        from scripts.quality import render_local

        wall = render_local(
            "lipsync-image",
            {"image": Path(photo), "audio": voice},
            {"resolution": resolution},
            root / f"bench_{resolution}.mp4",
        )
        print(
            f"render portrait {resolution}: {wall / 30.0:.3f} s per second of audio "
            f"(30 s clip, {wall:.1f} s, in-process, models warm after first)"
        )
    long_voice = _long_voice(root, 600.0)
    wall, peak = _render_subprocess(
        ["image", photo, str(long_voice), "-o", str(root / "long.mp4"), "--resolution", "720p"]
    )
    print(
        f"render portrait 720p, 10 min clip: {wall:.0f} s ({wall / 600:.3f} s/s), "
        f"peak RSS {peak:.0f} MiB"
    )


@section("floor")
async def render_vs_encode(root: Path) -> None:
    """Portrait render+encode next to encoding the very same frames alone (the floor no
    renderer can beat): 8 s clips at 480p and 720p, in this process, one after the other."""
    from engine.config import load_settings
    from engine.lipsync.faces import find_face
    from engine.lipsync.job_media import ANALYSIS_RATE, OUTPUT_RATE
    from engine.lipsync.portrait import PortraitAnimator, mouth_frames
    from engine.lipsync.portrait.jobs import sealed
    from engine.lipsync.speech.motion import limit_rate
    from engine.lipsync.speech.track import mouth_track
    from engine.media import Mp4Writer, fit_resolution, load_audio, load_image
    from tests.support.media import face_photo_path

    render = load_settings().render
    seconds, fps = 8.0, 25.0
    voice = _long_voice(root, seconds)
    audio = load_audio(voice, sample_rate=ANALYSIS_RATE)
    soundtrack = load_audio(voice, sample_rate=OUTPUT_RATE)
    n = round(seconds * fps)
    track = mouth_track(audio, ANALYSIS_RATE, fps, n_frames=n)
    mouths = mouth_frames(limit_rate(sealed(track.open), fps), track.width, track.teeth,
                          track.speaking, fps, track.tongue)  # fmt: skip
    image = load_image(face_photo_path())
    face = find_face(image)
    for short in (480, 720):
        size = fit_resolution(image.shape[1], image.shape[0], short)
        animator = PortraitAnimator(image, face, size, seed=1)

        def writer(name: str, size: tuple[int, int] = size) -> Mp4Writer:
            return Mp4Writer(
                root / name, size[0], size[1], fps, audio=soundtrack,
                audio_rate=OUTPUT_RATE, crf=render.crf, preset=render.preset,
            )  # fmt: skip

        started = time.perf_counter()
        frames = []
        with writer(f"floor_render_{short}.mp4") as out:
            for i, mouth in enumerate(mouths):
                frame = animator.frame(i, fps, mouth)
                frames.append(frame)
                out.write(frame)
        both = time.perf_counter() - started
        started = time.perf_counter()
        with writer(f"floor_encode_{short}.mp4") as out:
            for frame in frames:
                out.write(frame)
        alone = time.perf_counter() - started
        print(
            f"portrait {short}p: render+encode {both / seconds:.3f} s/s, encode alone "
            f"{alone / seconds:.3f} s/s: {both / alone:.2f}x the floor (goal <= 2.5x)"
        )
        del frames


async def _poll_load(base: str, key: str, job_id: str, seconds: float, clients: int) -> str:
    """Poll one job with `wrk` (a C load generator: a Python client would measure itself)."""
    import shutil

    if shutil.which("wrk") is None:
        return "wrk is not installed (make setup installs it)"
    process = await asyncio.create_subprocess_exec(
        "wrk", "-t2", f"-c{clients}", f"-d{seconds:.0f}s", "--latency",
        "-H", f"X-API-Key: {key}", f"{base}/api/v1/jobs/{job_id}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out = (await process.communicate())[0].decode()
    figures = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    rate = re.search(r"Requests/sec:\s+(\S+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (
        f"{float(rate[1]) if rate else 0:6.0f} req/s, p50 {figures.get('50', '?')}, "
        f"p99 {figures.get('99', '?')}, non-2xx {bad[1] if bad else 0}"
    )


@section("api")
async def api_latency(root: Path) -> None:
    """Poll latency at 50 concurrent clients against `lipsync serve`, idle and rendering."""
    import os
    import signal
    import socket
    import subprocess

    import httpx

    from tests.support.media import face_photo_path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "LIPSYNC_DATA_DIR": str(root / "api-data"),
        "LIPSYNC_PORT": str(port),
        "LIPSYNC_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    }
    log = root / "serve.log"
    with log.open("wb") as out:  # a file, not a pipe: an undrained pipe would block the server
        server = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        key = ""
        while not key or "Serving on" not in log.read_text(errors="replace"):
            if m := re.search(r"\bsk_[0-9a-f]+_\S+", log.read_text(errors="replace")):
                key = m.group(0)
            if server.poll() is not None:
                raise SystemExit(log.read_text(errors="replace")[-2000:])
            await asyncio.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        voice = _long_voice(root, 60.0)  # a 720p render of this outlasts the measurement
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            for _ in range(100):
                try:
                    await client.get("/health")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            headers = {"X-API-Key": key}
            urls = {}
            for role, path in (("image", face_photo_path()), ("audio", voice)):
                r = await client.post(
                    "/api/v1/files", headers=headers, files={"file": (path.name, path.read_bytes())}
                )
                urls[role] = r.json()["url"]
            first = (
                await client.post(
                    "/api/v1/lipsync-image", headers=headers, json={"formState": urls}
                )
            ).json()["id"]
            while (await client.get(f"/api/v1/jobs/{first}", headers=headers)).json()[
                "status"
            ] == "processing":
                await asyncio.sleep(0.5)
            print(f"api    idle:      {await _poll_load(base, key, first, 5, 50)}")
            job = (
                await client.post(
                    "/api/v1/lipsync-image",
                    headers=headers,
                    json={"formState": {**urls, "resolution": "720p"}},
                )
            ).json()
            await asyncio.sleep(1.0)
            print(f"api    rendering: {await _poll_load(base, key, job['id'], 5, 50)}")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


@section("dub")
async def dub_speed(root: Path) -> None:
    """Video dubbing: render+encode seconds per second of output at 480p and 720p (30 s of
    new audio over a 6 s talking-head source, extended by bounce), and the whole job's peak
    memory for 10 s and 30 s of source video (trimmed to the audio), which must not grow."""
    import json
    import subprocess

    import numpy as np

    from engine.media import Mp4Writer, iter_video_frames, load_audio
    from scripts.dub_quality import camera
    from scripts.quality import render_local
    from tests.support.espeak_truth import write_wav
    from tests.support.media import face_photo_path
    from tests.support.speech import speak

    sentence = load_audio(
        speak("Bob bought a big map, and Pam put the paper back on the table.", "en",
              root / "dub_sentence.wav"),
        sample_rate=16000,
    ).reshape(-1)  # fmt: skip

    def voice(seconds: float) -> Path:
        unit = np.concatenate([sentence, np.zeros(8000, np.float32)])
        samples = np.tile(unit, int(seconds * 16000) // len(unit) + 1)[: int(seconds * 16000)]
        path = root / f"dub_voice_{seconds:.0f}.wav"
        write_wav(path, samples, 16000)
        return path

    short = root / "dub_source_6s.mp4"
    render_local("lipsync-image", {"image": face_photo_path(), "audio": voice(6.0)}, {}, short)
    frames = list(iter_video_frames(short, fps=25))
    height, width = frames[0].shape[:2]
    long_source = root / "dub_source_30s.mp4"
    with Mp4Writer(long_source, width, height, 25, crf=18) as writer:
        for i in range(750):  # the 6 s clip played back and forth, with a slow camera move
            cycle = i % (2 * len(frames) - 2)
            frame = frames[cycle if cycle < len(frames) else 2 * len(frames) - 2 - cycle]
            writer.write(camera(frame, i / 749, (width, height)))

    child = (
        "import json, resource, sys; from pathlib import Path; "
        "from scripts.quality import render_local; "
        "a = json.loads(sys.argv[1]); "
        "wall = render_local('lipsync-video', {'video': Path(a['video']), "
        "'audio': Path(a['audio'])}, {'resolution': a['resolution']}, Path(a['out'])); "
        "print(json.dumps({'wall': wall, "
        "'rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"
    )

    def run(video: Path, seconds: float, resolution: str) -> dict[str, float]:
        job = {"video": str(video), "audio": str(voice(seconds)), "resolution": resolution,
               "out": str(root / f"dub_{resolution}_{seconds:.0f}.mp4")}  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-c", child, json.dumps(job)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return json.loads(done.stdout.strip().splitlines()[-1])

    for resolution in ("480p", "720p"):
        result = run(short, 30.0, resolution)
        print(
            f"dub    {resolution}: {result['wall'] / 30.0:.3f} s per second of output "
            f"(30 s of audio over a 6 s source, bounce; render+encode {result['wall']:.1f} s)"
        )
    small, large = run(long_source, 10.0, "480p"), run(long_source, 30.0, "480p")
    print(
        f"dub    480p memory: peak RSS {small['rss']:.0f} MiB for 10 s of source video, "
        f"{large['rss']:.0f} MiB for 30 s ({large['wall'] / 30.0:.3f} s/s, no bounce)"
    )


@section("tts")
async def tts_speed(root: Path) -> None:
    """Speech made here: how fast each engine speaks (s of speech per s; the neural voice
    warm, as in a running service, after its first load), the time from a typed line to a
    finished 10 s talking portrait at 480p (vs the same from a WAV), and how long a submit
    with ~40 s of Japanese text keeps its request (the text is spoken in the job)."""
    from engine import tts
    from engine.job_request import SpokenText
    from engine.media.audio import write_wav
    from tests.support.media import face_photo_path

    line = (
        "Bob bought a big map for the trip, and Pam paid for pancakes by the pond. "
        "My mother made plum pie, then we walked home across the bridge "
        "while the evening bells rang."
    )
    japanese = (
        "パパとママはきのう、公園で大きなパンを食べました。それから、家まで歩いて帰りました。"
    )
    for voice, text in (
        (tts.choose(voice="espeak:ja"), japanese),
        (tts.choose(language="ja"), japanese),
        (tts.choose(voice="espeak:en-us"), line),
        (tts.choose(language="en"), line),
    ):
        if voice.engine != tts.ESPEAK:
            start = time.perf_counter()
            tts.speak("Hello." if voice.language.startswith("en") else "はい。", voice)
            print(f"tts  {voice.id}: first load {time.perf_counter() - start:.2f} s")
        start = time.perf_counter()
        speech = tts.speak(text, voice)
        took = time.perf_counter() - start
        print(
            f"tts  {voice.id}: {speech.seconds:.1f} s of speech in {took * 1000:.0f} ms "
            f"({speech.seconds / took:.1f} s of speech per s)"
        )
    wav = root / "typed.wav"
    write_wav(wav, speech.samples, speech.sample_rate)
    settings = bench_settings(root / "tts", workers={"count": 1, "plugins": []})
    service = await Service.open(settings)
    try:
        account = (await service.create_api_key("bench", 10_000)).key.account_id
        await service.start_workers()
        folder = [face_photo_path().parent, root]
        for label, request in (
            (
                "from text",
                JobRequest(
                    model="lipsync-image",
                    inputs={"image": str(face_photo_path())},
                    speech={"audio": SpokenText(line)},
                ),
            ),
            (
                "from WAV ",
                JobRequest(
                    model="lipsync-image",
                    inputs={"image": str(face_photo_path()), "audio": str(wav)},
                ),
            ),
            (
                "from ja  ",
                JobRequest(
                    model="lipsync-image",
                    inputs={"image": str(face_photo_path())},
                    speech={"audio": SpokenText(japanese * 4, language="ja")},
                ),
            ),
        ):
            start = time.perf_counter()
            job = await service.submit(account, request, local_dirs=folder)
            submitted = time.perf_counter() - start
            done = await service.wait(job.id, timeout=600)
            took = time.perf_counter() - start
            print(
                f"tts  {label}: submit answered in {submitted * 1000:.0f} ms; "
                f"{done.output_seconds or 0:.1f} s video at 480p in {took:.1f} s "
                f"({done.status}; held {job.estimate} credits, charged {done.charged})"
            )
    finally:
        await service.close()


@section("measure")
async def measure_cost(root: Path) -> None:
    """What pricing on the decoded length costs at submit: probe alone (the old way, which
    believed the container) vs probe + decoding the whole sound, for 10 minutes of audio."""
    import av
    import numpy as np

    from engine.media.audio import measure_audio_seconds
    from engine.media.probe import probe

    seconds, rate = 600, 48_000
    t = np.arange(seconds * rate) / rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    for suffix, codec, fmt in (
        ("ogg", "libopus", "s16"),
        ("m4a", "aac", "fltp"),
        ("mp3", "libmp3lame", "s16p"),
    ):
        path = root / f"ten-minutes.{suffix}"
        with av.open(str(path), "w") as out:
            stream = out.add_stream(codec, rate=rate, layout="mono")
            data = samples if fmt.startswith("s16") else (samples / 32767).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(data[None, :], format=fmt, layout="mono")
            frame.sample_rate = rate
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                out.mux(packet)
        start = time.perf_counter()
        probe(path, max_bytes=1 << 30)
        probed = time.perf_counter() - start
        start = time.perf_counter()
        measured = measure_audio_seconds(path, max_seconds=3600)
        decoded = time.perf_counter() - start
        print(
            f"measure {suffix:>3}: probe {probed * 1000:6.1f} ms, decode {decoded * 1000:6.0f} ms "
            f"for {measured:.0f} s of sound ({seconds / decoded:.0f}x real time)"
        )


section("ray")(ray_vs_local)  # scripts/bench_ray.py: the Ray executor vs local
section("neural")(neural_speed)  # scripts/bench_neural.py: Wav2Lip vs classic on this CPU
section("musetalk")(musetalk_speed)  # scripts/bench_musetalk.py: MuseTalk frames per second


async def main(names: list[str]) -> None:
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        sys.exit(f"unknown section {unknown[0]}; choose from {', '.join(SECTIONS)}")
    with tempfile.TemporaryDirectory(prefix="lipsync-bench-") as tmp:
        for name in names or list(SECTIONS):
            await SECTIONS[name](Path(tmp))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
