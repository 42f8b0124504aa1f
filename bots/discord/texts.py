"""What the bot says: every user-facing line, in one place, so the flows stay readable.

Formatting only: prices, balances and job states come from the engine as they are; nothing
here computes a price or decides anything.
"""

from __future__ import annotations

from engine.jobs import Job
from engine.service import Estimate
from engine.vocabulary import Model, Resolution, Stage, Status

MODEL_NAMES: dict[Model, str] = {
    Model.IMAGE: "talking photo",
    Model.IMAGE_MULTI: "duet",
    Model.VIDEO: "dubbed video",
}
NOTHING_CHARGED = "Nothing was charged."
MESSAGE_LIMIT = 2000  # Discord refuses longer message content


def fit(text: str) -> str:
    """Cut a message to what Discord accepts (long engine errors, long job lists)."""
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def credits(n: int) -> str:
    return f"{n} credit" if n == 1 else f"{n} credits"


def price(estimate: Estimate, balance: int) -> str:
    """The line shown before the job starts: what it costs and what the user has."""
    return (
        f"This {MODEL_NAMES.get(estimate.model, estimate.model)} costs "
        f"**{credits(estimate.credits)}** ({estimate.billable_seconds} s at "
        f"{estimate.resolution}); your balance is {credits(balance)}."
    )


def too_few_credits(estimate: Estimate, balance: int) -> str:
    return (
        f"Not enough credits: this {MODEL_NAMES.get(estimate.model, estimate.model)} costs "
        f"{credits(estimate.credits)} ({estimate.billable_seconds} s at {estimate.resolution}) "
        f"and you have {credits(balance)}. Try shorter audio or 480p, or ask an admin for "
        f"credits. {NOTHING_CHARGED}"
    )


def progress(job: Job) -> str:
    """One line of live status: queued, or the engine's stage and how far along it is."""
    if job.status == Status.QUEUED:
        return "⏳ Queued, waiting for a free renderer…"
    if job.status == Status.PROCESSING:
        stage = job.stage or Stage.STARTING
        return f"⏳ {stage.capitalize()}… {round(job.progress * 100)} %"
    return f"⏳ {job.status}"


def done(job: Job, balance: int) -> str:
    seconds = job.output_seconds or 0.0
    charged = job.charged if job.charged is not None else job.estimate
    return (
        f"✅ Your {MODEL_NAMES.get(job.model, job.model)} is ready: {seconds:.1f} s at "
        f"{job.params.get('resolution', '')}. Charged {credits(charged)}; "
        f"balance {credits(balance)}."
    )


def as_link(size: int, limit: int, url: str, retention_days: float) -> str:
    return (
        f"The video is {size / 1024 / 1024:.1f} MB, over this server's "
        f"{limit / 1024 / 1024:.0f} MB upload limit, so here is a link "
        f"(kept {retention_days:g} days): {url}"
    )


def failed(job: Job) -> str:
    if job.status == Status.CANCELED:
        return f"Your video was canceled. {NOTHING_CHARGED}"
    return rejected(job.error or "the render failed")


def rejected(message: str) -> str:
    """An engine refusal (bad media, no face, too few credits) as a private reply."""
    return f"Your video could not be made: {message.rstrip('.')}. {NOTHING_CHARGED}"


def still_running(job: Job) -> str:
    return (
        f"Still working on your video ({job.status}, {job.stage or 'waiting'}). "
        "It will be listed under `/jobs` when it is ready."
    )


def job_line(job: Job, url: str | None) -> str:
    """One entry of `/jobs`."""
    name = MODEL_NAMES.get(job.model, job.model)
    when = f"<t:{int(job.created_at)}:R>"
    resolution = job.params.get("resolution", "")
    if job.status == Status.COMPLETED:
        state = f"done, {credits(job.charged or 0)}"
        if url:
            state += f" — [video]({url})"
    elif job.status == Status.PROCESSING:
        state = f"{job.stage or Stage.STARTING} {round(job.progress * 100)} %"
    elif job.status == Status.FAILED:
        state = f"failed: {(job.error or 'unknown error')[:150]} (refunded)"
    elif job.status == Status.CANCELED:
        state = "canceled (refunded)"
    else:
        state = f"queued, {credits(job.estimate)} held"
    return f"• {when} {name} {resolution} `{job.id[:8]}` — {state}"


def wrong_channel(channels: tuple[int, ...]) -> str:
    where = ", ".join(f"<#{c}>" for c in channels)
    return f"Videos can be made only in {where} on this server."


def balance(amount: int, rates: dict[Resolution, int], min_seconds: int) -> str:
    prices = ", ".join(f"{res}: {credits(rate)}/s" for res, rate in rates.items())
    return (
        f"You have **{credits(amount)}**. Videos cost {prices}, "
        f"at least {min_seconds} s per video; the price is shown before a video starts."
    )


INTERNAL_ERROR = (
    "Something went wrong on our side; please try again in a moment. " + NOTHING_CHARGED
)
