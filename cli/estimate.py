"""`lipsync estimate ...`: what a job would cost, measured from local files or URLs.

The inputs are fetched (URLs, with the same checks as a submission) or read (local files),
measured and priced by the service, as `POST /api/v1/estimate` does; nothing is charged and
no job is made.
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from pathlib import Path

from cli.render import MODELS
from engine.job_request import INPUT_ROLES, JobRequest
from engine.service import Service
from engine.vocabulary import Order, Resolution, Role

# The inputs that decide a price, as options (`--left-audio` for the role `left_audio`).
PRICED_ROLES = (Role.IMAGE, Role.VIDEO, Role.AUDIO, Role.LEFT_AUDIO, Role.RIGHT_AUDIO)


def add_estimate_parser(sub: argparse._SubParsersAction) -> None:
    estimate = sub.add_parser(
        "estimate", help="what a job would cost, from local files or URLs (nothing charged)"
    )
    estimate.add_argument("model", choices=list(MODELS), help="image, duet or video")
    for role in PRICED_ROLES:
        estimate.add_argument(
            f"--{role.value.replace('_', '-')}", dest=role.value, metavar="FILE_OR_URL"
        )
    estimate.add_argument("--resolution", choices=[r.value for r in Resolution])
    estimate.add_argument("--order", choices=[o.value for o in Order], help="duet only")


async def run_estimate(service: Service, args: argparse.Namespace) -> int:
    model = MODELS[args.model]
    inputs = {role.value: ref for role in PRICED_ROLES if (ref := getattr(args, role.value))}
    missing = [role for role in INPUT_ROLES[model] if role not in inputs]
    if missing:
        needed = " ".join(f"--{role.value.replace('_', '-')}" for role in INPUT_ROLES[model])
        print(f"lipsync: estimate {args.model} needs {needed}", file=sys.stderr)
        return 2
    local_dirs: list[Path] = []
    for role, ref in list(inputs.items()):
        if urllib.parse.urlsplit(ref).scheme.lower() in ("http", "https", "data"):
            continue
        path = Path(ref).expanduser().resolve()
        if not path.is_file():
            print(f"lipsync: {role}: no such file {path}", file=sys.stderr)
            return 2
        inputs[role] = str(path)
        local_dirs.append(path.parent)
    params = {"resolution": args.resolution, "order": args.order}
    request = JobRequest(
        model=model,
        inputs=inputs,
        params={k: v for k, v in params.items() if v is not None},
        source="cli",
    )
    quote = await service.estimate(request, local_dirs=local_dirs)
    print(
        f"{quote.model} at {quote.resolution}: {quote.output_seconds:.2f} s of video, billed "
        f"as {quote.billable_seconds} s: {quote.credits} credits (about "
        f"{quote.estimated_time} s to render; nothing charged)"
    )
    return 0
