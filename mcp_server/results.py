"""What the tools answer: typed structured output, a summary sentence for the assistant to
read, and tool errors. Shared by every tool, so a job looks the same whichever tool
returned it."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from engine.vocabulary import Model, Status


def one_of(words: type[StrEnum]) -> Any:
    """A parameter type taking one of a vocabulary's words, spelled out in the schema.

    An enum type would appear as a `$ref` to a definition elsewhere in the schema, which
    some assistants' clients do not follow; a `Literal` of the members is written inline.
    """
    return Literal[tuple(words)]  # type: ignore[valid-type]


class JobResult(BaseModel):
    """A job as the assistant sees it (the structured output of every job tool)."""

    job_id: str = Field(description="Pass this to get_job or cancel_job.")
    model: one_of(Model)  # type: ignore[valid-type]
    status: one_of(Status)  # type: ignore[valid-type]
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


class VoiceInfo(BaseModel):
    id: str = Field(description="Pass this as `voice` to a job tool.")
    language: str = Field(description="Its main language tag.")
    languages: list[str] = Field(description="Every tag it answers to.")
    engine: str
    gender: str


class VoiceList(BaseModel):
    voices: list[VoiceInfo]


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


def tool_error(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=message)], is_error=True)


def structured(model: BaseModel, summary: str) -> CallToolResult:
    data = model.model_dump(mode="json")
    return CallToolResult(
        content=[TextContent(text=summary), TextContent(text=json.dumps(data))],
        structured_content=data,
    )


def summary(job: JobResult) -> str:
    if job.status == Status.COMPLETED:
        lines = [
            f"Job {job.job_id} is done: a {job.duration_seconds or 0:.1f} s video, "
            f"{job.credits_charged} credits charged.",
            f"Video: {job.output_url}",
        ]
        if job.local_path:
            lines.append(f"Local file: {job.local_path}")
        return "\n".join(lines)
    if job.status == Status.FAILED:
        return (
            f"Job {job.job_id} failed: {(job.error or 'unknown error').rstrip('.')}. "
            f"The {job.credits_estimated} credits held were refunded."
        )
    if job.status == Status.CANCELED:
        return (
            f"Job {job.job_id} was canceled; the {job.credits_estimated} credits held were "
            "refunded."
        )
    return (
        f"Job {job.job_id} is {job.status} ({job.stage}); it holds {job.credits_estimated} "
        f'credits. Call get_job with job_id="{job.job_id}" and wait_seconds to follow it.'
    )
