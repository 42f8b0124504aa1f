"""The MCP tools: every lipsync endpoint as a typed tool over `engine.service`.

Both transports (stdio for desktop assistants, streamable HTTP under `/mcp`) register the
same tools from here; they differ only in *who* is calling (a `CallerResolver`: the
configured local account, or the account of the request's API key) and in whether local
file paths are accepted and shown. The tools stay a thin door: they translate arguments
into `JobRequest`s, call the service, and turn jobs into results an assistant can act on:
structured output, a summary sentence, a link to the MP4 and a thumbnail it can look at.
"""

import base64
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent

from engine import tts
from engine.errors import InvalidInput, LipsyncError
from engine.job_request import JobRequest, SpokenText
from engine.jobs import Job
from engine.service import Service
from engine.vocabulary import Model, Status
from mcp_server.progress import ProgressReporter, describe_stage
from mcp_server.results import (
    Balance,
    CostEstimate,
    JobList,
    JobResult,
    VoiceInfo,
    VoiceList,
    structured,
    summary,
    tool_error,
)

log = logging.getLogger("lipsync.mcp")

SOURCE = "mcp"
MAX_WAIT_SECONDS = 600.0


# -- who is calling ----------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The account a tool call acts for: whose jobs it sees and whose credits it spends.

    `rate_limited` is false only for the stdio door, whose caller is the machine's owner.
    """

    account_id: str
    rate_limited: bool = True
    key_id: str | None = None  # the API key of an HTTP call: its secret signs webhooks


CallerResolver = Callable[[Context], Awaitable[Caller]]
ToolFn = Callable[..., Awaitable[CallToolResult]]


# -- the tools' logic --------------------------------------------------------------------


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "")}


@dataclass(frozen=True)
class Texts:
    """What a job tool's text arguments ask to be spoken: voice role -> text, a voice (or one
    per role) and a language, for the roles sent as text instead of an audio reference."""

    texts: Mapping[str, str | None]
    voice: str | None = None
    language: str | None = None
    voices: Mapping[str, str | None] | None = None

    def speech(self) -> dict[str, SpokenText]:
        speech: dict[str, SpokenText] = {}
        for role, text in self.texts.items():
            if text is None:
                continue
            voice = (self.voices or {}).get(role) or self.voice or None
            for value in (text, voice, self.language):
                if value is not None and not _encodable(value):
                    raise InvalidInput("the text, voice and language must be valid Unicode")
            speech[role] = SpokenText(text, voice, self.language or None)
        if not speech and (self.voice or self.language or any((self.voices or {}).values())):
            raise InvalidInput("voice and language go with a text to speak")
        return speech


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


NO_TEXT = Texts({})


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
        texts: Texts = NO_TEXT,
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
                source=SOURCE,
                speech=texts.speech(),
            )
            job = await self.service.submit(
                caller.account_id,
                request,
                local_dirs=self.local_dirs,
                rate_limited=caller.rate_limited,
                key_id=caller.key_id,
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
            return tool_error(exc.message)

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
            return tool_error(exc.message)

    async def cancel_job(self, ctx: Context, job_id: str) -> CallToolResult:
        try:
            caller = await self.resolve_caller(ctx)
            job = await self.service.cancel(job_id, account_id=caller.account_id)
            return await self.job_result(job)
        except LipsyncError as exc:
            return tool_error(exc.message)

    async def list_jobs(
        self, ctx: Context, statuses: Sequence[str], model: str | None, limit: int
    ) -> CallToolResult:
        try:
            caller = await self.resolve_caller(ctx)
            found = await self.service.list_jobs(
                caller.account_id, statuses=statuses, model=model, limit=limit
            )
        except LipsyncError as exc:
            return tool_error(exc.message)
        listing = JobList(jobs=[self.job_model(job) for job in found])
        lines = [f"{len(found)} job(s), newest first:"] + [
            f"- {j.job_id} {j.model}: {j.status} ({j.stage})" for j in listing.jobs
        ]
        return structured(listing, "\n".join(lines))

    async def get_balance(self, ctx: Context) -> CallToolResult:
        try:
            caller = await self.resolve_caller(ctx)
            account = await self.service.get_account(caller.account_id)
        except LipsyncError as exc:
            return tool_error(exc.message)
        prices = self.service.price_list()
        balance = Balance(
            credits=account.balance,
            plan=account.plan,
            rates=dict(prices.credits_per_second),
            min_billed_seconds=prices.min_seconds,
        )
        return structured(balance, f"{account.balance} credits available ({account.plan} plan).")

    async def list_voices(self, language: str | None) -> CallToolResult:
        tag = (language or "").strip().lower().replace("_", "-")
        found = [
            VoiceInfo(
                id=v.id,
                language=v.language,
                languages=list(v.languages),
                engine=v.engine,
                gender=v.gender,
            )
            for v in self.service.voices()
            if not tag or any(t == tag or t.startswith(f"{tag}-") for t in v.languages)
        ]
        if not found:
            return tool_error(
                f"no voice speaks '{language}'; these languages have one: "
                f"{', '.join(tts.languages())}"
            )
        listing = VoiceList(voices=found)
        shown = ", ".join(f"{v.id} ({v.language})" for v in found[:40])
        more = f" and {len(found) - 40} more" if len(found) > 40 else ""
        return structured(listing, f"{len(found)} voice(s): {shown}{more}.")

    async def estimate_cost(
        self,
        ctx: Context,
        model: str,
        inputs: Mapping[str, str | None],
        params: Mapping[str, Any],
        texts: Texts = NO_TEXT,
    ) -> CallToolResult:
        try:
            caller = await self.resolve_caller(ctx)
            request = JobRequest(
                model=model,
                inputs=_present(inputs),
                params=_present(params),
                speech=texts.speech(),
            )
            estimate = await self.service.estimate(
                request,
                local_dirs=self.local_dirs,
                account_id=caller.account_id if caller.rate_limited else None,
            )
            account = await self.service.get_account(caller.account_id)
        except LipsyncError as exc:
            return tool_error(exc.message)
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
        return structured(
            cost,
            f"A {cost.output_seconds:.1f} s {cost.model} video at {cost.resolution} costs "
            f"{cost.credits} credits ({cost.billable_seconds} billable s); the balance of "
            f"{cost.balance} is {verdict}.",
        )

    # -- turning jobs into results -------------------------------------------------------

    def job_model(self, job: Job) -> JobResult:
        _, words = describe_stage(job)
        finished = job.status == Status.COMPLETED
        path = self.service.output_path(job) if finished else None
        return JobResult(
            job_id=job.id,
            model=Model(job.model),
            status=Status(job.status),
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
        content: list[ContentBlock] = [TextContent(text=summary(result))]
        if job.status == Status.COMPLETED:
            content.extend(await self._video_blocks(job, result))
        content.append(TextContent(text=result.model_dump_json(exclude_none=True)))
        return CallToolResult(
            content=content,
            structured_content=result.model_dump(mode="json"),
            is_error=job.status == Status.FAILED,
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
            png = await self.service.thumbnail(job)
        except Exception:  # a missing thumbnail must not hide a finished video
            log.warning("no thumbnail for job %s", job.id, exc_info=True)
            png = None
        if png is not None:
            blocks.append(ImageContent(data=base64.b64encode(png).decode(), mime_type="image/png"))
        return blocks
