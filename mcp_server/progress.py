"""Progress as an assistant sees it: one overall percent and a few words per job state.

The renderer reports a stage and how far into it it is; MCP progress notifications want a
single number that only grows, with a message. Each stage gets a span of the whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mcp.server.mcpserver import Context

from engine.jobs import Job
from engine.vocabulary import Stage, Status

log = logging.getLogger("lipsync.mcp")

# Overall percent (start, end) of each renderer stage. Handlers order their stages
# differently; `ProgressReporter` keeps the numbers moving forward whatever the order.
_STAGE_SPANS: dict[Stage, tuple[float, float]] = {
    Stage.STARTING: (8.0, 8.0),
    Stage.SPEAKING: (8.0, 10.0),
    Stage.DECODING: (10.0, 14.0),
    Stage.FINDING_FACES: (15.0, 19.0),
    Stage.TRACKING_FACES: (15.0, 19.0),
    Stage.ANALYSING_SPEECH: (20.0, 24.0),
    Stage.CHOOSING_MOUTHS: (20.0, 24.0),
    Stage.RENDERING: (25.0, 95.0),
    Stage.ENCODING: (95.0, 99.0),
}


def describe_stage(job: Job) -> tuple[float, str]:
    """(overall percent, words) for a job: what a progress notification shows."""
    if job.status == Status.QUEUED:
        return 5.0, "queued, waiting for a render slot"
    if job.status == Status.COMPLETED:
        return 100.0, "done"
    if job.status == Status.FAILED:
        return 100.0, f"failed: {job.error}"
    if job.status == Status.CANCELED:
        return 100.0, "canceled"
    stage, fraction = job.stage or Stage.STARTING, max(0.0, min(1.0, job.progress))
    start, end = _STAGE_SPANS.get(stage, (10.0, 10.0))  # type: ignore[call-overload]
    return start + (end - start) * fraction, _WORDS.get(stage, lambda _: stage)(fraction)


_WORDS: dict[str, Callable[[float], str]] = {
    Stage.SPEAKING: lambda _: "speaking the text",
    Stage.DECODING: lambda _: "decoding inputs",
    Stage.RENDERING: lambda done: f"rendering {round(done * 100)}%",
    Stage.ENCODING: lambda _: "finishing the MP4",
}


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
