"""The tools as an assistant sees them: names, typed and described parameters, structured
output, hints. What each tool does is `mcp_server.tools.LipsyncTools`; this module only
declares, so a tool's contract reads in one place.

No `from __future__ import annotations` here: the SDK evaluates each tool's annotations,
and the parameter types below are local to `register`.
"""

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from engine.vocabulary import Model, Order, Resolution, Role, Status, SyncMode
from mcp_server.results import Balance, CostEstimate, JobList, JobResult, VoiceList, one_of
from mcp_server.tools import MAX_WAIT_SECONDS, LipsyncTools, Texts, ToolFn


def register(mcp: MCPServer, tools: LipsyncTools) -> None:
    """Declare every tool on `mcp`: typed, described parameters and structured output."""
    service = tools.service
    kinds = ["a public http(s) URL", "a data: URI (small files)", "the URL of a file uploaded here"]
    if tools.local_dirs:
        kinds.append(f"a local file path under {', '.join(str(d) for d in tools.local_dirs)}")
    refs = f"{', '.join(kinds[:-1])} or {kinds[-1]}."
    refs = refs[0].upper() + refs[1:]
    prices = service.price_list()
    rate_words = ", ".join(
        f"{res} {rate} credits/s" for res, rate in prices.credits_per_second.items()
    )
    minimum = prices.min_seconds

    def ref(what: str) -> Any:
        return Annotated[str, Field(description=f"{what} {refs}", min_length=1)]

    def optional_ref(what: str) -> Any:
        return Annotated[str | None, Field(description=f"{what} {refs}")]

    Size = Annotated[
        one_of(Resolution) | None,
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

    def say(what: str) -> Any:
        return Annotated[
            str | None,
            Field(
                description=f"{what} Spoken here (espeak-ng, exact lip timings), at most "
                f"{service.settings.tts.max_chars} characters."
            ),
        ]

    Voice = Annotated[
        str | None,
        Field(
            max_length=64,
            description="With text: a voice id from list_voices, e.g. 'espeak:es'.",
        ),
    ]
    Language = Annotated[
        str | None,
        Field(
            max_length=64,
            description="With text: a language tag ('en', 'es', 'tr', 'ko', 'ja'...); its "
            "best voice speaks. English if neither voice nor language is given.",
        ),
    ]
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
        audio: optional_ref(
            "The new voice (any audio file, or a video with sound); or give text."
        ) = None,
        text: say("What the speaker should say, instead of audio.") = None,
        voice: Voice = None,
        language: Language = None,
        mask_image: Mask = None,
        sync_mode: Annotated[
            one_of(SyncMode) | None,
            Field(
                description="When the audio is longer than the video: play the video "
                "back and forth (bounce, default), loop it, or freeze the last frame."
            ),
        ] = None,
        resolution: Size = None,
        fps: Fps = None,
        seed: Seed = None,
        prompt: Prompt = None,
        max_duration: MaxDuration = None,
        wait_seconds: Wait = 0,
        idempotency_key: Idempotency = None,
    ) -> JobOutput:
        """Re-voice a video: the speaker's lips follow the new audio, or a text spoken here
        (give one of audio or text). The output lasts as long as the voice. Returns the job
        at once, or its result with wait_seconds."""
        return await tools.submit(
            ctx,
            Model.VIDEO,
            {Role.VIDEO: video, Role.AUDIO: audio, Role.MASK_IMAGE: mask_image},
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
            texts=Texts({Role.AUDIO: text}, voice, language),
        )

    @tool(title="Make a photo talk", annotations=submits)
    async def lipsync_image(
        ctx: Context,
        image: ref("A photo with one clearly visible face."),
        audio: optional_ref(
            "What the face should say (any audio file, or a video with sound); or give text."
        ) = None,
        text: say("What the face should say, instead of audio.") = None,
        voice: Voice = None,
        language: Language = None,
        mask_image: Mask = None,
        resolution: Size = None,
        fps: Fps = None,
        seed: Seed = None,
        prompt: Prompt = None,
        max_duration: MaxDuration = None,
        wait_seconds: Wait = 0,
        idempotency_key: Idempotency = None,
    ) -> JobOutput:
        """Turn a portrait photo and a voice (an audio file, or a text spoken here: give one
        of audio or text) into a talking-head MP4 (lips, blinks, a little head motion).
        Returns the job at once, or its result with wait_seconds."""
        return await tools.submit(
            ctx,
            Model.IMAGE,
            {Role.IMAGE: image, Role.AUDIO: audio, Role.MASK_IMAGE: mask_image},
            {
                "resolution": resolution,
                "fps": fps,
                "seed": seed,
                "prompt": prompt,
                "max_duration": max_duration,
            },
            wait_seconds=wait_seconds,
            idempotency_key=idempotency_key,
            texts=Texts({Role.AUDIO: text}, voice, language),
        )

    @tool(title="Make two people in a photo talk", annotations=submits)
    async def lipsync_image_multi(
        ctx: Context,
        image: ref("A photo showing two people side by side."),
        left_audio: optional_ref("What the person on the left says; or give left_text.") = None,
        right_audio: optional_ref("What the person on the right says; or give right_text.") = None,
        left_text: say("What the person on the left says, instead of left_audio.") = None,
        right_text: say("What the person on the right says, instead of right_audio.") = None,
        voice: Voice = None,
        language: Language = None,
        order: Annotated[
            one_of(Order) | None,
            Field(
                description="Both speak at once (meanwhile, default; billed on the longer "
                "audio), or one after the other (billed on the sum)."
            ),
        ] = None,
        mask_image: Mask = None,
        resolution: Size = None,
        fps: Fps = None,
        seed: Seed = None,
        prompt: Prompt = None,
        max_duration: MaxDuration = None,
        wait_seconds: Wait = 0,
        idempotency_key: Idempotency = None,
    ) -> JobOutput:
        """Turn a photo of two people and two voices into a conversation video; each voice is
        an audio file or a text spoken here (give one of left_audio or left_text, and one of
        right_audio or right_text). Returns the job at once, or its result with
        wait_seconds."""
        return await tools.submit(
            ctx,
            Model.IMAGE_MULTI,
            {
                Role.IMAGE: image,
                Role.LEFT_AUDIO: left_audio,
                Role.RIGHT_AUDIO: right_audio,
                Role.MASK_IMAGE: mask_image,
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
            texts=Texts(
                {Role.LEFT_AUDIO: left_text, Role.RIGHT_AUDIO: right_text}, voice, language
            ),
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
            list[one_of(Status)] | None, Field(description="Only jobs in these states.")
        ] = None,
        model: Annotated[one_of(Model) | None, Field(description="Only jobs of this kind.")] = None,
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
        model: Annotated[one_of(Model), Field(description="Which job to price.")],
        image: optional_ref("lipsync-image(-multi): the photo.") = None,
        video: optional_ref("lipsync-video: the video.") = None,
        audio: optional_ref("lipsync-video / lipsync-image: the voice.") = None,
        left_audio: optional_ref("lipsync-image-multi: the left voice.") = None,
        right_audio: optional_ref("lipsync-image-multi: the right voice.") = None,
        text: say("lipsync-video / lipsync-image: what to say, instead of audio.") = None,
        left_text: say("lipsync-image-multi: the left text, instead of left_audio.") = None,
        right_text: say("lipsync-image-multi: the right text, instead of right_audio.") = None,
        voice: Voice = None,
        language: Language = None,
        order: Annotated[
            one_of(Order) | None,
            Field(description="lipsync-image-multi only."),
        ] = None,
        resolution: Size = None,
        max_duration: MaxDuration = None,
    ) -> Annotated[CallToolResult, CostEstimate]:
        """What a job would cost, measured from its real inputs; nothing is charged."""
        return await tools.estimate_cost(
            ctx,
            model,
            {
                Role.IMAGE: image,
                Role.VIDEO: video,
                Role.AUDIO: audio,
                Role.LEFT_AUDIO: left_audio,
                Role.RIGHT_AUDIO: right_audio,
            },
            {"order": order, "resolution": resolution, "max_duration": max_duration},
            Texts(
                {Role.AUDIO: text, Role.LEFT_AUDIO: left_text, Role.RIGHT_AUDIO: right_text},
                voice,
                language,
            ),
        )

    @tool(title="List voices for text", annotations=reads)
    async def list_voices(
        ctx: Context,
        language: Annotated[
            str | None,
            Field(max_length=64, description="Only voices for this language tag, e.g. 'es'."),
        ] = None,
    ) -> Annotated[CallToolResult, VoiceList]:
        """The voices a job tool's text can be spoken with (their ids go in `voice`), with
        the languages each speaks."""
        return await tools.list_voices(language)
