"""The MCP tools: every lipsync endpoint as a typed tool over `engine.service`.

Both transports (stdio for desktop assistants, streamable HTTP under `/mcp`) register the
same tools from here; they differ only in *who* is calling (a `CallerResolver`: the
configured local account, or the account of the request's API key) and in whether local
file paths are accepted and shown. The tools stay a thin door: they translate arguments
into `JobRequest`s, call the service, and turn jobs into results an assistant can act on:
structured output, a summary sentence, a link to the MP4 and a thumbnail it can look at.
"""

import asyncio
import base64
import datetime as dt
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import av
import cv2
import numpy as np
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import (
    CallToolResult,
    ContentBlock,
    ImageContent,
    ResourceLink,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel, Field

from engine.errors import LipsyncError
from engine.jobs import Job
from engine.requests import JobRequest
from engine.service import Service

log = logging.getLogger("lipsync.mcp")

MAX_WAIT_SECONDS = 600.0
THUMBNAIL_SIZE = 512
JobStatus = Literal["queued", "processing", "completed", "failed", "canceled"]
Model = Literal["lipsync-video", "lipsync-image", "lipsync-image-multi"]


# -- who is calling ----------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The account a tool call acts for: whose jobs it sees and whose credits it spends.

    `rate_limited` is false only for the stdio door, whose caller is the machine's owner.
    """

    account_id: str
    rate_limited: bool = True


CallerResolver = Callable[[Context], Awaitable[Caller]]
ToolFn = Callable[..., Awaitable[CallToolResult]]


# -- results -----------------------------------------------------------------------------


class JobResult(BaseModel):
    """A job as the assistant sees it (the structured output of every job tool)."""

    job_id: str = Field(description="Pass this to get_job or cancel_job.")
    model: str
    status: JobStatus
    stage: str = Field(description="What the job is doing, in words: 'rendering 42%'.")
    progress: float = Field(description="0 to 1.")
    output_url: str | None = Field(None, description="The MP4, once completed.")
    local_path: str | None = Field(
        None, description="The MP4 on this machine (stdio only), once completed."
    )
    duration_seconds: float | None = Field(None, description="Length of the output video.")
    credits_estimated: int = Field(description="Credits held while the job runs.")
    credits_charged: int | None = Field(None, description="Credits charged, once completed.")
    error: str | None = Field(None, description="Why the job failed.")
    error_code: str | None = None
    created_at: str = Field(description="ISO 8601, UTC.")


class JobList(BaseModel):
    jobs: list[JobResult] = Field(description="Newest first.")


class Balance(BaseModel):
    credits: int = Field(description="Credits available to spend now.")
    plan: str
    rates: dict[str, int] = Field(description="Credits per second of output, by resolution.")
    min_billed_seconds: int = Field(description="Every job is billed at least this long.")


class CostEstimate(BaseModel):
    model: str
    resolution: str
    output_seconds: float = Field(description="How long the video would be.")
    billable_seconds: int
    credits: int = Field(description="What the job would cost.")
    estimated_render_seconds: int
    balance: int = Field(description="Credits available now.")
    affordable: bool = Field(description="Whether the balance covers the cost.")


# -- progress ----------------------------------------------------------------------------

# Overall percent (start, end) of each renderer stage. Handlers order their stages
# differently; `ProgressReporter` keeps the numbers moving forward whatever the order.
_STAGE_SPANS: dict[str, tuple[float, float]] = {
    "starting": (8.0, 8.0),
    "decoding": (10.0, 14.0),
    "finding faces": (15.0, 19.0),
    "tracking faces": (15.0, 19.0),
    "analysing speech": (20.0, 24.0),
    "choosing mouths": (20.0, 24.0),
    "rendering": (25.0, 95.0),
    "encoding": (95.0, 99.0),
}


def describe_stage(job: Job) -> tuple[float, str]:
    """(overall percent, words) for a job: what a progress notification shows."""
    if job.status == "queued":
        return 5.0, "queued, waiting for a render slot"
    if job.status == "completed":
        return 100.0, "done"
    if job.status == "failed":
        return 100.0, f"failed: {job.error}"
    if job.status == "canceled":
        return 100.0, "canceled"
    stage, fraction = job.stage or "starting", max(0.0, min(1.0, job.progress))
    if stage == "rendering" and fraction >= 0.99:
        stage, fraction = "encoding", 0.0  # the frames are out; the MP4 is being finished
    start, end = _STAGE_SPANS.get(stage, (10.0, 10.0))
    words = {"decoding": "decoding inputs", "rendering": f"rendering {round(fraction * 100)}%"}
    return start + (end - start) * fraction, words.get(stage, stage)


class ProgressReporter:
    """Sends MCP progress notifications for one tool call, always moving forward.

    The protocol wants each notification's progress above the last; a new stage with the
    same percent is nudged up a little so its words still reach the user.
    """

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._percent = -1.0
        self._message = ""

    async def send(self, percent: float, message: str) -> None:
        if message == self._message and percent <= self._percent:
            return
        percent = round(min(100.0, max(percent, self._percent + 0.1)), 1)
        if percent <= self._percent:
            return
        self._percent, self._message = percent, message
        try:
            await self._ctx.report_progress(percent, 100, message)
        except Exception:  # a client that went away must not fail the job it asked for
            log.debug("could not send a progress notification", exc_info=True)

    async def job_changed(self, job: Job) -> None:
        await self.send(*describe_stage(job))


# -- thumbnails --------------------------------------------------------------------------


def middle_frame_png(path: Path, max_size: int = THUMBNAIL_SIZE) -> bytes:
    """A PNG of the video's middle frame, at most `max_size` px on its longer side.

    Seeks rather than decoding from the start, so a ten-minute output costs no more than
    a short one.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        seconds = 0.0
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            seconds = container.duration / av.time_base
        middle = seconds / 2
        if middle > 0 and stream.time_base is not None:
            container.seek(int(middle / stream.time_base), stream=stream)
        picked: np.ndarray | None = None
        for frame in container.decode(stream):
            picked = frame.to_ndarray(format="rgb24")
            if frame.time is None or frame.time >= middle:
                break
    if picked is None:
        raise ValueError(f"{path.name} has no frames")
    height, width = picked.shape[:2]
    scale = min(1.0, max_size / max(width, height))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        picked = cv2.resize(picked, size, interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(picked, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ValueError("PNG encoding failed")
    return encoded.tobytes()


# -- the tools' logic --------------------------------------------------------------------


def _tool_error(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=message)], is_error=True)


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "")}


class LipsyncTools:
    """What the tools do, independent of the MCP signatures that `register` declares."""

    def __init__(
        self,
        service: Service,
        resolve_caller: CallerResolver,
        *,
        local_dirs: Sequence[Path] = (),
        show_local_paths: bool = False,
    ) -> None:
        self.service = service
        self.resolve_caller = resolve_caller
        self.local_dirs = tuple(local_dirs)
        self.show_local_paths = show_local_paths

    async def submit(
        self,
        ctx: Context,
        model: str,
        inputs: Mapping[str, str | None],
        params: Mapping[str, Any],
        *,
        wait_seconds: float,
        idempotency_key: str | None,
    ) -> CallToolResult:
        """Queue a job (fetching its inputs first), then optionally wait, reporting progress."""
        try:
            caller = await self.resolve_caller(ctx)
            progress = ProgressReporter(ctx)
            await progress.send(2.0, "fetching inputs")
            request = JobRequest(
                model=model,
                inputs=_present(inputs),
                params=_present(params),
                idempotency_key=idempotency_key or None,
                source="mcp",
            )
            job = await self.service.submit(
                caller.account_id,
                request,
                local_dirs=self.local_dirs,
                rate_limited=caller.rate_limited,
            )
            await progress.job_changed(job)
            if wait_seconds > 0:
                job = await self.service.wait(
                    job.id,
                    wait_seconds,
                    account_id=caller.account_id,
                    on_change=progress.job_changed,
                )
            return await self.job_result(job)
        except LipsyncError as exc:
            return _tool_error(exc.message)

    async def get_job(self, ctx: Context, job_id: str, wait_seconds: float) -> CallToolResult:
        try:
            caller = await self.resolve_caller(ctx)
            if wait_seconds > 0:
                progress = ProgressReporter(ctx)
                job = await self.service.wait(
                    job_id,
                    wait_seconds,
                    account_id=caller.account_id,
                    on_change=progress.job_changed,
                )
            else:
                job = await self.service.get_job(job_id, account_id=caller.account_id)
            return await self.job_result(job)
        except LipsyncError as exc:
            return _tool_error(exc.message)

    async def cancel_job(self, ctx: Context, job_id: str) -> CallToolResult:
        try:
            caller = await self.resolve_caller(ctx)
            job = await self.service.cancel(job_id, account_id=caller.account_id)
            return await self.job_result(job)
        except LipsyncError as exc:
            return _tool_error(exc.message)

    async def list_jobs(
        self, ctx: Context, statuses: Sequence[str], model: str | None, limit: int
    ) -> CallToolResult:
        try:
            caller = await self.resolve_caller(ctx)
            found = await self.service.list_jobs(
                caller.account_id, statuses=statuses, model=model, limit=limit
            )
        except LipsyncError as exc:
            return _tool_error(exc.message)
        listing = JobList(jobs=[self.job_model(job) for job in found])
        lines = [f"{len(found)} job(s), newest first:"] + [
            f"- {j.job_id} {j.model}: {j.status} ({j.stage})" for j in listing.jobs
        ]
        return _structured(listing, "\n".join(lines))

    async def get_balance(self, ctx: Context) -> CallToolResult:
        try:
            caller = await self.resolve_caller(ctx)
            account = await self.service.get_account(caller.account_id)
        except LipsyncError as exc:
            return _tool_error(exc.message)
        pricing = self.service.settings.pricing
        balance = Balance(
            credits=account.balance,
            plan=account.plan,
            rates=dict(pricing.credits_per_second),
            min_billed_seconds=pricing.min_seconds,
        )
        return _structured(balance, f"{account.balance} credits available ({account.plan} plan).")

    async def estimate_cost(
        self, ctx: Context, model: str, inputs: Mapping[str, str | None], params: Mapping[str, Any]
    ) -> CallToolResult:
        try:
            caller = await self.resolve_caller(ctx)
            request = JobRequest(model=model, inputs=_present(inputs), params=_present(params))
            estimate = await self.service.estimate(
                request,
                local_dirs=self.local_dirs,
                account_id=caller.account_id if caller.rate_limited else None,
            )
            account = await self.service.get_account(caller.account_id)
        except LipsyncError as exc:
            return _tool_error(exc.message)
        cost = CostEstimate(
            model=estimate.model,
            resolution=estimate.resolution,
            output_seconds=estimate.output_seconds,
            billable_seconds=estimate.billable_seconds,
            credits=estimate.credits,
            estimated_render_seconds=estimate.estimated_time,
            balance=account.balance,
            affordable=account.balance >= estimate.credits,
        )
        verdict = "enough" if cost.affordable else "NOT enough"
        return _structured(
            cost,
            f"A {cost.output_seconds:.1f} s {cost.model} video at {cost.resolution} costs "
            f"{cost.credits} credits ({cost.billable_seconds} billable s); the balance of "
            f"{cost.balance} is {verdict}.",
        )

    # -- turning jobs into results -------------------------------------------------------

    def job_model(self, job: Job) -> JobResult:
        _, words = describe_stage(job)
        finished = job.status == "completed"
        path = self.service.output_path(job) if finished else None
        return JobResult(
            job_id=job.id,
            model=job.model,
            status=job.status,  # type: ignore[arg-type]
            stage=words,
            progress=1.0 if job.is_final else round(job.progress, 3),
            output_url=self.service.output_url(job) if finished else None,
            local_path=str(path) if path and self.show_local_paths else None,
            duration_seconds=job.output_seconds if finished else None,
            credits_estimated=job.estimate,
            credits_charged=job.charged,
            error=job.error or None,
            error_code=job.error_code or None,
            created_at=dt.datetime.fromtimestamp(job.created_at, dt.UTC).isoformat(),
        )

    async def job_result(self, job: Job) -> CallToolResult:
        """One job: structured output, a summary, and for a finished one the video itself."""
        result = self.job_model(job)
        content: list[ContentBlock] = [TextContent(text=_summary(result))]
        if job.status == "completed":
            content.extend(await self._video_blocks(job, result))
        content.append(TextContent(text=result.model_dump_json(exclude_none=True)))
        return CallToolResult(
            content=content,
            structured_content=result.model_dump(mode="json"),
            is_error=job.status == "failed",
        )

    async def _video_blocks(self, job: Job, result: JobResult) -> list[ContentBlock]:
        path = self.service.output_path(job)
        if path is None or not path.is_file():
            return []
        uri = path.resolve().as_uri() if self.show_local_paths else result.output_url
        blocks: list[ContentBlock] = [
            ResourceLink(
                uri=uri or "",
                name=f"lipsync-{job.id}.mp4",
                title=f"{job.model} result",
                description=f"{result.duration_seconds or 0:.1f} s lip-synced video (H.264/AAC)",
                mime_type="video/mp4",
                size=path.stat().st_size,
            )
        ]
        try:
            png = await asyncio.to_thread(middle_frame_png, path)
        except Exception:  # a missing thumbnail must not hide a finished video
            log.warning("no thumbnail for job %s", job.id, exc_info=True)
        else:
            blocks.append(ImageContent(data=base64.b64encode(png).decode(), mime_type="image/png"))
        return blocks


def _structured(model: BaseModel, summary: str) -> CallToolResult:
    data = model.model_dump(mode="json")
    return CallToolResult(
        content=[TextContent(text=summary), TextContent(text=json.dumps(data))],
        structured_content=data,
    )


def _summary(job: JobResult) -> str:
    if job.status == "completed":
        lines = [
            f"Job {job.job_id} is done: a {job.duration_seconds or 0:.1f} s video, "
            f"{job.credits_charged} credits charged.",
            f"Video: {job.output_url}",
        ]
        if job.local_path:
            lines.append(f"Local file: {job.local_path}")
        return "\n".join(lines)
    if job.status == "failed":
        return (
            f"Job {job.job_id} failed: {(job.error or 'unknown error').rstrip('.')}. "
            f"The {job.credits_estimated} credits held were refunded."
        )
    if job.status == "canceled":
        return (
            f"Job {job.job_id} was canceled; the {job.credits_estimated} credits held were "
            "refunded."
        )
    return (
        f"Job {job.job_id} is {job.status} ({job.stage}); it holds {job.credits_estimated} "
        f'credits. Call get_job with job_id="{job.job_id}" and wait_seconds to follow it.'
    )


# -- the MCP signatures ------------------------------------------------------------------


def register(mcp: MCPServer, tools: LipsyncTools) -> None:
    """Declare every tool on `mcp`: typed, described parameters and structured output."""
    service = tools.service
    kinds = ["a public http(s) URL", "a data: URI (small files)", "the URL of a file uploaded here"]
    if tools.local_dirs:
        kinds.append(f"a local file path under {', '.join(str(d) for d in tools.local_dirs)}")
    refs = f"{', '.join(kinds[:-1])} or {kinds[-1]}."
    refs = refs[0].upper() + refs[1:]
    rates = service.settings.pricing.credits_per_second
    rate_words = ", ".join(f"{res} {rate} credits/s" for res, rate in rates.items())
    minimum = service.settings.pricing.min_seconds

    def ref(what: str) -> Any:
        return Annotated[str, Field(description=f"{what} {refs}", min_length=1)]

    def optional_ref(what: str) -> Any:
        return Annotated[str | None, Field(description=f"{what} {refs}")]

    Resolution = Annotated[
        Literal["480p", "720p", "1080p"] | None,
        Field(
            description=f"Output size; default {service.settings.render.default_resolution}. "
            f"Price: {rate_words}, at least {minimum} s billed."
        ),
    ]
    Fps = Annotated[
        int | None,
        Field(
            ge=24,
            le=60,
            description="Frames per second (24-60); a dubbed video keeps its own unless given.",
        ),
    ]
    Seed = Annotated[int | None, Field(ge=0, description="Same seed, same inputs: the same video.")]
    Prompt = Annotated[
        str | None,
        Field(
            max_length=2000,
            description="Style words the renderer knows: calm, expressive, "
            "still head, no blinks, blink more.",
        ),
    ]
    MaxDuration = Annotated[
        float | None, Field(gt=0, description="Cut the output after this many seconds.")
    ]
    Mask = optional_ref("Optional mask image: only its white area may change.")
    Wait = Annotated[
        float,
        Field(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="Seconds to wait for the result (0 = return the job id at once). "
            "Progress notifications are sent while waiting; a job still running when the "
            "time is up keeps running: follow it with get_job.",
        ),
    ]
    Idempotency = Annotated[
        str | None,
        Field(
            max_length=200,
            description="Any unique string: retrying with the same key returns the same job "
            "instead of making (and charging) a second one.",
        ),
    ]
    WaitForJob = Annotated[
        float,
        Field(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="Seconds to wait for the job to finish (0 = answer at once), sending "
            "progress notifications meanwhile.",
        ),
    ]
    JobId = Annotated[str, Field(min_length=1, description="The job_id a submit returned.")]
    JobOutput = Annotated[CallToolResult, JobResult]

    def tool(title: str, annotations: ToolAnnotations) -> Callable[[ToolFn], ToolFn]:
        """Register with the docstring as one paragraph: the assistant reads it as prose."""

        def add(fn: ToolFn) -> ToolFn:
            description = " ".join(inspect.cleandoc(fn.__doc__ or "").split())
            mcp.add_tool(fn, title=title, description=description, annotations=annotations)
            return fn

        return add

    submits = ToolAnnotations(destructive_hint=False, open_world_hint=True)
    reads = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @tool(title="Lip-sync a video to new audio", annotations=submits)
    async def lipsync_video(
        ctx: Context,
        video: ref("The video whose speaker should say the new audio."),
        audio: ref("The new voice (any audio file, or a video with sound)."),
        mask_image: Mask = None,
        sync_mode: Annotated[
            Literal["bounce", "loop", "freeze"] | None,
            Field(
                description="When the audio is longer than the video: play the video "
                "back and forth (bounce, default), loop it, or freeze the last frame."
            ),
        ] = None,
        resolution: Resolution = None,
        fps: Fps = None,
        seed: Seed = None,
        prompt: Prompt = None,
        max_duration: MaxDuration = None,
        wait_seconds: Wait = 0,
        idempotency_key: Idempotency = None,
    ) -> JobOutput:
        """Re-voice a video: the speaker's lips follow the new audio. The output lasts as
        long as the audio. Returns the job at once, or its result with wait_seconds."""
        return await tools.submit(
            ctx,
            "lipsync-video",
            {"video": video, "audio": audio, "mask_image": mask_image},
            {
                "sync_mode": sync_mode,
                "resolution": resolution,
                "fps": fps,
                "seed": seed,
                "prompt": prompt,
                "max_duration": max_duration,
            },
            wait_seconds=wait_seconds,
            idempotency_key=idempotency_key,
        )

    @tool(title="Make a photo talk", annotations=submits)
    async def lipsync_image(
        ctx: Context,
        image: ref("A photo with one clearly visible face."),
        audio: ref("What the face should say (any audio file, or a video with sound)."),
        mask_image: Mask = None,
        resolution: Resolution = None,
        fps: Fps = None,
        seed: Seed = None,
        prompt: Prompt = None,
        max_duration: MaxDuration = None,
        wait_seconds: Wait = 0,
        idempotency_key: Idempotency = None,
    ) -> JobOutput:
        """Turn a portrait photo and a voice into a talking-head MP4 (lips, blinks, a
        little head motion). Returns the job at once, or its result with wait_seconds."""
        return await tools.submit(
            ctx,
            "lipsync-image",
            {"image": image, "audio": audio, "mask_image": mask_image},
            {
                "resolution": resolution,
                "fps": fps,
                "seed": seed,
                "prompt": prompt,
                "max_duration": max_duration,
            },
            wait_seconds=wait_seconds,
            idempotency_key=idempotency_key,
        )

    @tool(title="Make two people in a photo talk", annotations=submits)
    async def lipsync_image_multi(
        ctx: Context,
        image: ref("A photo showing two people side by side."),
        left_audio: ref("What the person on the left says."),
        right_audio: ref("What the person on the right says."),
        order: Annotated[
            Literal["meanwhile", "left_right", "right_left"] | None,
            Field(
                description="Both speak at once (meanwhile, default; billed on the longer "
                "audio), or one after the other (billed on the sum)."
            ),
        ] = None,
        mask_image: Mask = None,
        resolution: Resolution = None,
        fps: Fps = None,
        seed: Seed = None,
        prompt: Prompt = None,
        max_duration: MaxDuration = None,
        wait_seconds: Wait = 0,
        idempotency_key: Idempotency = None,
    ) -> JobOutput:
        """Turn a photo of two people and two voices into a conversation video. Returns the
        job at once, or its result with wait_seconds."""
        return await tools.submit(
            ctx,
            "lipsync-image-multi",
            {
                "image": image,
                "left_audio": left_audio,
                "right_audio": right_audio,
                "mask_image": mask_image,
            },
            {
                "order": order,
                "resolution": resolution,
                "fps": fps,
                "seed": seed,
                "prompt": prompt,
                "max_duration": max_duration,
            },
            wait_seconds=wait_seconds,
            idempotency_key=idempotency_key,
        )

    @tool(title="Get a job", annotations=reads)
    async def get_job(
        ctx: Context,
        job_id: JobId,
        wait_seconds: WaitForJob = 0,
    ) -> JobOutput:
        """A job's status and progress; once completed, its video link, length, credits
        charged and a thumbnail. With wait_seconds, waits for it to finish first."""
        return await tools.get_job(ctx, job_id, wait_seconds)

    @tool(title="List jobs", annotations=reads)
    async def list_jobs(
        ctx: Context,
        status: Annotated[
            list[JobStatus] | None, Field(description="Only jobs in these states.")
        ] = None,
        model: Annotated[Model | None, Field(description="Only jobs of this kind.")] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many.")] = 20,
    ) -> Annotated[CallToolResult, JobList]:
        """Recent jobs of this account, newest first."""
        return await tools.list_jobs(ctx, status or [], model, limit)

    @tool(
        title="Cancel a job",
        annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=False),
    )
    async def cancel_job(ctx: Context, job_id: JobId) -> JobOutput:
        """Cancel a queued or running job; the credits it holds are refunded."""
        return await tools.cancel_job(ctx, job_id)

    @tool(title="Credit balance", annotations=reads)
    async def get_balance(ctx: Context) -> Annotated[CallToolResult, Balance]:
        """Credits available to this account, and what a second of video costs."""
        return await tools.get_balance(ctx)

    @tool(title="Estimate a job's cost", annotations=reads)
    async def estimate_cost(
        ctx: Context,
        model: Annotated[Model, Field(description="Which job to price.")],
        image: optional_ref("lipsync-image(-multi): the photo.") = None,
        video: optional_ref("lipsync-video: the video.") = None,
        audio: optional_ref("lipsync-video / lipsync-image: the voice.") = None,
        left_audio: optional_ref("lipsync-image-multi: the left voice.") = None,
        right_audio: optional_ref("lipsync-image-multi: the right voice.") = None,
        order: Annotated[
            Literal["meanwhile", "left_right", "right_left"] | None,
            Field(description="lipsync-image-multi only."),
        ] = None,
        resolution: Resolution = None,
        max_duration: MaxDuration = None,
    ) -> Annotated[CallToolResult, CostEstimate]:
        """What a job would cost, measured from its real inputs; nothing is charged."""
        return await tools.estimate_cost(
            ctx,
            model,
            {
                "image": image,
                "video": video,
                "audio": audio,
                "left_audio": left_audio,
                "right_audio": right_audio,
            },
            {"order": order, "resolution": resolution, "max_duration": max_duration},
        )
