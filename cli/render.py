"""`lipsync render ...`: the renderer on local files, no server, no credits, a progress bar."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

from engine.config import Settings
from engine.handlers import JobContext, JobSpec, get_handler, load_handlers
from engine.job_request import INPUT_ROLES, normalize_params
from engine.lipsync.neural import load_generator
from engine.native_logs import quiet_native_logs
from engine.vocabulary import Model, Order, Resolution, Role, SyncMode

# The CLI's word for each model (`lipsync render image|duet|video`).
MODELS: dict[str, Model] = {"image": Model.IMAGE, "duet": Model.IMAGE_MULTI, "video": Model.VIDEO}


def add_render_parser(sub: argparse._SubParsersAction) -> None:
    render = sub.add_parser("render", help="render local files without a server")
    kinds = render.add_subparsers(dest="kind", required=True)

    image = kinds.add_parser("image", help="photo + voice -> talking portrait")
    _inputs(image, MODELS["image"])
    _common(image)

    duet = kinds.add_parser("duet", help="photo of two + two voices -> conversation")
    _inputs(duet, MODELS["duet"])
    duet.add_argument("--order", default=Order.MEANWHILE.value, choices=_words(Order))
    _common(duet)

    video = kinds.add_parser("video", help="video + new voice -> dubbed video")
    _inputs(video, MODELS["video"])
    video.add_argument("--sync-mode", default=SyncMode.BOUNCE.value, choices=_words(SyncMode))
    _common(video)


def _inputs(parser: argparse.ArgumentParser, model: Model) -> None:
    """One positional file argument per input the model requires, named after its role."""
    for role in INPUT_ROLES[model]:
        parser.add_argument(role.value)


def _words(vocabulary: type[StrEnum]) -> list[str]:
    """A vocabulary's words as plain strings (argparse shows choices by their repr)."""
    return [member.value for member in vocabulary]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, help="the MP4 to write")
    parser.add_argument("--resolution", choices=_words(Resolution))
    parser.add_argument("--fps", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt", default="")
    parser.add_argument("--mask", help="image whose white area limits what may change")


def run_render(args: argparse.Namespace, settings: Settings) -> int:
    model = MODELS[args.kind]
    params: dict[str, Any] = {
        "resolution": args.resolution,
        "fps": args.fps,
        "seed": args.seed,
        "prompt": args.prompt,
    }
    if model == Model.IMAGE_MULTI:
        params["order"] = args.order
    if model == Model.VIDEO:
        params["sync_mode"] = args.sync_mode
    params = normalize_params(model, {k: v for k, v in params.items() if v is not None}, settings)
    inputs: dict[str, Path] = {role: Path(getattr(args, role)) for role in INPUT_ROLES[model]}
    if args.mask:
        inputs[Role.MASK_IMAGE] = Path(args.mask)
    for role, path in inputs.items():
        if not path.is_file():
            print(f"lipsync: {role}: no such file {path}", file=sys.stderr)
            return 2
    quiet_native_logs()  # MediaPipe's startup lines, unless `lipsync --verbose`
    if model != Model.IMAGE_MULTI:
        # A neural render.backend loads its weights now, once: a missing or damaged
        # checkpoint stops here with its name (ConfigError), before any decoding.
        load_generator(settings)
    load_handlers(settings.workers.plugins)
    handler = get_handler(model)
    if handler is None:
        print(f"lipsync: no renderer registered for {model}", file=sys.stderr)
        return 2
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    bar = ProgressBar()
    with tempfile.TemporaryDirectory(prefix="lipsync-") as work:
        spec = JobSpec(
            id="local",
            model=model,
            params=params,
            inputs=inputs,
            work_dir=Path(work),
            output_path=output,
            settings=settings,
        )
        started = time.perf_counter()
        result = handler(spec, JobContext(report=bar.update))
        bar.finish()
    elapsed = time.perf_counter() - started
    print(f"wrote {output} ({result.output_seconds:.2f} s of video in {elapsed:.1f} s)")
    return 0


class ProgressBar:
    """A one-line bar on stderr: stage, percentage, elapsed time."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.last_stage = ""

    def update(self, stage: str, fraction: float) -> None:
        width = max(10, min(40, shutil.get_terminal_size().columns - 40))
        filled = round(fraction * width)
        line = (
            f"\r{stage[:20]:<20} [{'#' * filled}{'.' * (width - filled)}] "
            f"{fraction:4.0%} {time.perf_counter() - self.started:5.1f}s"
        )
        if self.tty:
            sys.stderr.write(line)
            sys.stderr.flush()
        elif stage != self.last_stage:
            sys.stderr.write(f"{stage}...\n")
        self.last_stage = stage

    def finish(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
