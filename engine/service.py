"""The one facade every door calls: accounts, keys, credits, jobs, waiting for results.

Doors (REST, MCP, bots, CLI) never touch SQL, pricing or rendering; they translate their
own dialect into these calls and the results back. Listeners registered with
`add_listener` hear about every job change made by this process's worker pool (webhooks and
bots use that); `wait` also polls, so it sees jobs finished by workers in other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from engine import jobs, keys, ledger, pricing, sessions, tts, users
from engine.config import Settings
from engine.db import Database
from engine.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from engine.inputs import ResolvedInput, resolve_inputs
from engine.job_request import JobRequest, SpokenText, check_text, input_kinds, validate
from engine.jobs import Job, NewJob
from engine.keys import ApiKeyInfo
from engine.ledger import Account, Entry
from engine.media.thumbnail import middle_frame_png
from engine.ratelimit import RateLimiter
from engine.sessions import Session
from engine.speech_inputs import plan_speech, speak_to_file
from engine.storage import Storage
from engine.uploads import ServedFile, Upload, served_file, store_upload
from engine.users import User
from engine.vocabulary import Plan, Resolution, Status
from engine.webhooks import (
    Delivery,
    PayloadBuilder,
    WebhookDispatcher,
    check_webhook_url,
    deliveries_for,
    key_webhook_secret,
    master_secret,
)
from engine.worker.pool import WorkerPool

log = logging.getLogger("lipsync.service")

JobListener = Callable[[Job], Awaitable[None]]
AUTH_CACHE_SECONDS = 2.0
AUTH_CACHE_SIZE = 10_000

# Rough render speed of the built-in backend (seconds of work per second of output), used
# only for the `estimatedTime` hint that seed 004 returns at submit.
RENDER_SECONDS_PER_SECOND = {Resolution.P480: 0.5, Resolution.P720: 1.0, Resolution.P1080: 2.0}


@dataclass(frozen=True)
class Estimate:
    model: str
    resolution: str
    output_seconds: float
    billable_seconds: int
    credits: int
    estimated_time: int


@dataclass(frozen=True)
class Health:
    queued: int
    processing: int
    workers: int  # render slots of this process


@dataclass(frozen=True)
class SpokenFile:
    url: str  # works as any job's voice input
    seconds: float
    voice: tts.Voice
    credits: int


@dataclass(frozen=True)
class SignedIn:
    token: str  # the cookie's value; only its hash is stored
    session: Session
    user: User


@dataclass(frozen=True)
class NewKey:
    key: ApiKeyInfo
    secret: str  # the full `sk_..._...` key: shown once, never stored


class Service:
    def __init__(self, settings: Settings, db: Database, storage: Storage) -> None:
        self.settings = settings
        self.db = db
        self.storage = storage
        self.pool: WorkerPool | None = None
        self._listeners: list[JobListener] = []
        self._auth_cache: dict[str, tuple[float, ApiKeyInfo]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self.rate_limiter = RateLimiter()
        self._webhooks: WebhookDispatcher | None = None

    @classmethod
    async def open(cls, settings: Settings) -> Service:
        db = await Database.open(settings.database_path)
        storage = Storage(settings.data_path, settings.base_url)
        return cls(settings, db, storage)

    async def start_workers(self, slots: int | None = None) -> WorkerPool:
        self.pool = WorkerPool(
            self.db, self.storage, self.settings, slots=slots, on_update=self.publish
        )
        await self.pool.start()
        return self.pool

    def start_webhooks(
        self, payload_for: PayloadBuilder, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        """Deliver (and re-deliver) the webhooks of finished jobs, in the body `payload_for`
        makes: the door whose dialect the job was submitted in owns its webhook's shape."""
        dispatcher = WebhookDispatcher(self.db, self.settings, payload_for, transport=transport)

        async def wake(job: Job) -> None:
            if job.webhook and job.is_final:
                dispatcher.wake()

        self.add_listener(wake)
        dispatcher.start()
        self._webhooks = dispatcher

    async def stop_webhooks(self) -> None:
        if self._webhooks is not None:
            await self._webhooks.stop()
            self._webhooks = None

    async def close(self) -> None:
        try:
            await self.stop_webhooks()
            if self.pool is not None:
                await self.pool.stop()
                self.pool = None
        finally:
            await self.db.close()

    async def health(self) -> Health:
        """Liveness and queue depth, for `/health` and the CLI."""
        queued, processing = await jobs.queue_depth(self.db)
        return Health(
            queued=queued, processing=processing, workers=self.pool.slots if self.pool else 0
        )

    # -- events ------------------------------------------------------------------------

    def add_listener(self, listener: JobListener) -> None:
        self._listeners.append(listener)

    async def publish(self, job: Job) -> None:
        event = self._changed.pop(job.id, None)
        if event is not None:
            event.set()
        for listener in list(self._listeners):
            try:
                await listener(job)
            except Exception:
                log.exception("job listener failed for %s", job.id)

    async def wait(
        self,
        job_id: str,
        timeout: float,
        *,
        account_id: str | None = None,
        on_change: Callable[[Job], Awaitable[None]] | None = None,
        poll_seconds: float = 0.5,
    ) -> Job:
        """Wait until the job is final or `timeout` passes; return it as it is then."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen: tuple[str, str, float] | None = None
        while True:
            job = await self.get_job(job_id, account_id=account_id)
            state = (job.status, job.stage, job.progress)
            if on_change is not None and state != seen:
                await on_change(job)
            seen = state
            remaining = deadline - loop.time()
            if job.is_final or remaining <= 0:
                return job
            event = self._changed.setdefault(job_id, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(poll_seconds, remaining))

    # -- accounts, keys, credits -------------------------------------------------------

    async def create_api_key(
        self,
        name: str = "",
        credits: int = 0,
        plan: str = Plan.FREE,
        *,
        admin: bool = False,
        account_id: str | None = None,
    ) -> NewKey:
        """A new key on an account of its own (with `credits`), or, with `account_id`, one
        more key drawing on that account (a signed-in person's keys share their balance)."""
        if plan not in tuple(Plan):
            raise InvalidInput(f"plan must be one of {', '.join(Plan)}")
        key_id, secret, digest = keys.new_secret()
        async with self.db.write() as conn:
            if account_id is None:
                account_id = (
                    await ledger.create_account(
                        conn,
                        kind="api",
                        owner=f"apikey:{key_id}",
                        name=name,
                        plan=plan,
                        credits=credits,
                        note="credits of a new API key",
                    )
                ).id
            await keys.insert(conn, key_id, account_id, name, digest, admin=admin)
        info = await self.get_api_key(key_id)
        return NewKey(key=info, secret=secret)

    def webhook_secret(self, key_id: str) -> str:
        """The `whsec_` secret that signs this key's webhooks (derived, never stored)."""
        return key_webhook_secret(master_secret(self.settings.data_path), key_id)

    async def ensure_admin_key(self) -> NewKey | None:
        """On the very first start, make an admin key with starter credits (else None)."""
        if await keys.any_exist(self.db):
            return None
        return await self.create_api_key(
            "admin", self.settings.accounts.admin_starter_credits, plan="pro", admin=True
        )

    async def authenticate(self, token: str) -> ApiKeyInfo | None:
        """The active key for a presented `sk_...` token, or None; constant-time compare.

        A successful lookup is remembered for AUTH_CACHE_SECONDS, because clients poll
        every few seconds and the key check would otherwise be most of a poll's cost. A
        revocation in this process clears the memory at once; one made by another process
        (the CLI) takes effect within that time.
        """
        if keys.split_key(token or "") is None:
            return None
        digest = keys.hash_secret(token)
        now = time.monotonic()
        cached = self._auth_cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        info = await keys.find_active(self.db, token)
        if info is None:
            return None
        info = await keys.mark_used(self.db, info)
        if len(self._auth_cache) > AUTH_CACHE_SIZE:
            self._auth_cache.clear()
        self._auth_cache[digest] = (now + AUTH_CACHE_SECONDS, info)
        return info

    async def get_api_key(self, key_id: str) -> ApiKeyInfo:
        return await keys.get(self.db, key_id)

    async def list_api_keys(self) -> list[ApiKeyInfo]:
        return await keys.list_all(self.db)

    async def revoke_api_key(self, key_id: str) -> ApiKeyInfo:
        try:
            return await keys.revoke(self.db, key_id)
        finally:
            self._auth_cache.clear()

    async def user_account(self, platform: str, user_id: str | int, name: str = "") -> Account:
        """The credits account of a chat user, made with starter credits on first contact."""
        owner = f"{platform}:{user_id}"
        async with self.db.write() as conn:
            account = await ledger.find_account_by_owner(conn, owner)
            if account is None:
                account = await ledger.create_account(
                    conn,
                    kind="user",
                    owner=owner,
                    name=name,
                    credits=self.settings.accounts.user_starter_credits,
                )
        return account

    async def named_account(self, owner: str, *, kind: str, starter_credits: int) -> Account:
        async with self.db.write() as conn:
            account = await ledger.find_account_by_owner(conn, owner)
            if account is None:
                account = await ledger.create_account(
                    conn, kind=kind, owner=owner, name=owner, credits=starter_credits
                )
        return account

    async def get_account(self, account_id: str) -> Account:
        return await ledger.read_account(self.db, account_id)

    async def resolve_account(self, ref: str) -> Account:
        """An account by id (`acc_...`), API key id, or owner (`telegram:123`)."""
        return await ledger.resolve_account(self.db, ref)

    async def grant(
        self, account_id: str, credits: int, *, note: str = "granted", ref: str | None = None
    ) -> Entry | None:
        if credits <= 0:
            raise InvalidInput("credits to grant must be positive")
        async with self.db.write() as conn:
            return await ledger.grant(conn, account_id, credits, note=note, ref=ref)

    async def ledger_entries(
        self, account_id: str, *, limit: int = 50, before_id: int | None = None
    ) -> list[Entry]:
        async with self.db.write() as conn:
            return await ledger.entries(conn, account_id, limit=limit, before_id=before_id)

    # -- speech from text ----------------------------------------------------------------

    def voices(self) -> tuple[tts.Voice, ...]:
        """Every voice jobs and `synthesize` may name."""
        return tts.catalogue()

    async def synthesize(
        self, account_id: str, spoken: SpokenText, *, rate_limited: bool = True
    ) -> SpokenFile:
        """Speech alone (seed 004's TTS): a WAV kept like an upload, whose URL works as any
        job's voice, charged `tts.credits_per_second` per second of speech."""
        check_text(spoken, self.settings)
        if rate_limited:
            await self.count_submission(account_id)
        path = self.storage.new_upload_path(".wav")
        speech = await asyncio.to_thread(
            speak_to_file, spoken, path, self.settings, what="the speech"
        )
        settings = self.settings.tts
        credits = settings.credits_per_second * max(
            settings.min_seconds, math.ceil(speech.seconds - 1e-3)
        )
        charge = f"tts-{uuid.uuid4()}"
        note = f"speech, {speech.seconds:.1f} s with {speech.voice.id}"
        try:
            async with self.db.write() as conn:
                if credits:
                    await ledger.reserve(conn, account_id, charge, credits, note=note)
                    await ledger.settle_charge(conn, account_id, charge, credits, credits)
        except BaseException:
            path.unlink(missing_ok=True)
            tts.phones_path(path).unlink(missing_ok=True)
            raise
        return SpokenFile(
            url=self.storage.public_url(path),
            seconds=round(speech.seconds, 3),
            voice=speech.voice,
            credits=credits,
        )

    # -- people (the portal) ----------------------------------------------------------

    async def sign_up(
        self, email: str, password: str, *, admin: bool = False, by_operator: bool = False
    ) -> User:
        """A new person with an API balance (their keys') and a user balance (the
        playground's). With `portal.signup = "closed"` only the operator makes people."""
        if self.settings.portal.signup != "open" and not by_operator:
            raise Forbidden("sign-up is closed here; ask the operator for an account")
        return await users.create(
            self.db,
            email,
            password,
            admin=admin,
            api_credits=self.settings.portal.api_starter_credits,
            user_credits=self.settings.accounts.user_starter_credits,
        )

    async def sign_in(self, email: str, password: str, *, client: str) -> SignedIn:
        """A session for these credentials; at most SIGN_IN_ATTEMPTS tries a minute per
        email and per client address, right or wrong."""
        for principal in (f"sign-in:{email.strip().lower()}", f"sign-in-from:{client}"):
            self.rate_limiter.take(principal, Plan.FREE, "sign_in")
        user = await users.verify(self.db, email, password)
        if user is None:
            raise Unauthorized("the email or the password is not right")
        lifetime = self.settings.portal.session_days * 86400
        token, session = await sessions.create(self.db, user.id, lifetime)
        return SignedIn(token=token, session=session, user=user)

    async def signed_in(self, token: str) -> SignedIn | None:
        """Who a session cookie belongs to, while the session lasts."""
        session = await sessions.find(self.db, token)
        if session is None:
            return None
        return SignedIn(
            token=token, session=session, user=await users.get(self.db, session.user_id)
        )

    async def sign_out(self, token: str) -> None:
        await sessions.end(self.db, token)

    async def list_users(self) -> list[User]:
        return await users.list_all(self.db)

    async def person_keys(self, user: User) -> list[ApiKeyInfo]:
        return await keys.list_for_account(self.db, user.api_account_id)

    async def create_person_key(self, user: User, name: str) -> NewKey:
        return await self.create_api_key(name.strip()[:100], account_id=user.api_account_id)

    async def revoke_person_key(self, user: User, key_id: str) -> ApiKeyInfo:
        key = await self.get_api_key(key_id)
        if key.account_id != user.api_account_id:  # someone else's: as if it did not exist
            raise NotFound(f"no API key {key_id}")
        return await self.revoke_api_key(key_id)

    async def spent_per_day(self, account_id: str, *, days: int = 30) -> list[tuple[str, int]]:
        return await ledger.spent_per_day(self.db, account_id, days=days)

    # -- jobs ----------------------------------------------------------------------------

    def quote(self, model: str, params: dict, durations: dict[str, float]) -> Estimate:
        q = pricing.quote_job(
            model,
            params["resolution"],
            durations,
            self.settings.pricing,
            order=params.get("order", "meanwhile"),
            max_duration=params.get("max_duration"),
        )
        speed = RENDER_SECONDS_PER_SECOND.get(params["resolution"], 1.0)
        return Estimate(
            model=model,
            resolution=params["resolution"],
            output_seconds=round(q.output_seconds, 3),
            billable_seconds=q.billable_seconds,
            credits=q.credits,
            estimated_time=max(1, round(q.output_seconds * speed + 2)),
        )

    async def count_submission(self, account_id: str) -> None:
        """Take one from the account's `submit` budget (every door), or raise `RateLimited`.

        Accounts of admin keys are not limited: the operator is who the limits protect.
        """
        account = await ledger.read_account(self.db, account_id)
        if not await keys.has_admin_key(self.db, account_id):
            self.rate_limiter.take(f"account:{account_id}", account.plan, "submit")

    async def estimate(
        self,
        request: JobRequest,
        *,
        local_dirs: Sequence[Path] = (),
        account_id: str | None = None,
    ) -> Estimate:
        """What a request would cost, fetching its inputs to measure them (nothing charged).

        With `account_id`, the estimate counts against that account's submission budget:
        measuring means fetching and decoding, as much work as a submission's first half.
        """
        params = validate(request, self.settings)
        if account_id is not None:
            await self.count_submission(account_id)
        scratch = self.storage.input_dir(f"estimate-{uuid.uuid4()}")
        try:
            resolved = await self._inputs(request, scratch, local_dirs)
            return self.quote(request.model, params, _durations(resolved))
        finally:
            self.storage.discard_job_files(scratch.name)

    async def submit(
        self,
        account_id: str,
        request: JobRequest,
        *,
        local_dirs: Sequence[Path] = (),
        rate_limited: bool = True,
        key_id: str | None = None,
    ) -> Job:
        """Validate, fetch and probe the inputs, hold the price, queue the job.

        `key_id`: the API key it came with (REST, MCP over HTTP), whose secret signs its
        webhook; a person's keys share one account, so the account alone cannot say which.

        Any refusal (bad field, broken file, private URL, too few credits, over the rate
        limit) raises a `LipsyncError` and leaves no job and no charge behind. Only doors
        whose user owns the machine (CLI, MCP over stdio) pass `rate_limited=False`.
        """
        params = validate(request, self.settings)
        if request.webhook:
            await check_webhook_url(request.webhook, self.settings)
        request_hash = _request_hash(request)
        if request.idempotency_key:
            existing = await jobs.find_by_idempotency_key(
                self.db, account_id, request.idempotency_key
            )
            if existing is not None:
                return _same_request(existing, request_hash)
        if rate_limited:
            await self.count_submission(account_id)
        job_id = str(uuid.uuid4())
        try:
            resolved = await self._inputs(request, self.storage.input_dir(job_id), local_dirs)
            estimate = self.quote(request.model, params, _durations(resolved))
            new = NewJob(
                id=job_id,
                account_id=account_id,
                model=request.model,
                params=params,
                inputs={
                    role: r.path.relative_to(self.storage.root).as_posix()
                    for role, r in resolved.items()
                },
                estimate=estimate.credits,
                estimate_seconds=estimate.output_seconds,
                max_attempts=self.settings.workers.max_attempts,
                source=request.source,
                webhook=request.webhook,
                idempotency_key=request.idempotency_key,
                request_hash=request_hash,
                key_id=key_id,
                note=f"hold for {request.model}, {estimate.billable_seconds} s at "
                f"{params['resolution']}",
            )
            async with self.db.write() as conn:
                job = await jobs.insert(conn, new)
        except BaseException:
            self.storage.discard_job_files(job_id)
            if request.idempotency_key:  # lost a race with an identical submission?
                existing = await jobs.find_by_idempotency_key(
                    self.db, account_id, request.idempotency_key
                )
                if existing is not None:
                    return _same_request(existing, request_hash)
            raise
        await self.publish(job)
        return job

    async def _inputs(
        self, request: JobRequest, dest: Path, local_dirs: Sequence[Path]
    ) -> dict[str, ResolvedInput]:
        """Every input of a request in `dest`: fetched, copied, or (text) planned, to be
        spoken when the job runs."""
        resolved = await resolve_inputs(
            request.inputs,
            input_kinds(request.model),
            dest,
            self.storage,
            self.settings,
            local_dirs=local_dirs,
        )
        planned = await asyncio.to_thread(plan_speech, request.speech, dest, self.settings)
        return {**resolved, **planned}

    async def get_job(self, job_id: str, *, account_id: str | None = None) -> Job:
        job = await jobs.get(self.db, job_id)
        if account_id is not None and job.account_id != account_id:
            raise NotFound(f"no job with id {job_id}")
        return job

    async def list_jobs(
        self,
        account_id: str | None,
        *,
        statuses: Sequence[str] = (),
        model: str | None = None,
        limit: int = 20,
        before: float | None = None,
    ) -> list[Job]:
        bad = [s for s in statuses if s not in tuple(Status)]
        if bad:
            raise InvalidInput(f"unknown status '{bad[0]}'")
        return await jobs.list_jobs(
            self.db,
            account_id=account_id,
            statuses=statuses,
            model=model,
            limit=max(1, min(limit, 200)),
            before=before,
        )

    async def cancel(self, job_id: str, *, account_id: str | None = None) -> Job:
        job = await jobs.cancel(self.db, job_id, account_id)
        await self.publish(job)
        return job

    # -- files ---------------------------------------------------------------------------

    async def store_upload(self, chunks: AsyncIterator[bytes]) -> Upload:
        """Keep a posted file (up to `limits.max_upload_bytes`); its URL works as any input."""
        return await store_upload(self.storage, chunks, self.settings.limits.max_upload_bytes)

    def served_file(self, folder: str, name: str) -> ServedFile:
        found = served_file(self.storage, folder, name)
        if found is None:
            raise NotFound("no such file (it may have expired)")
        return found

    async def deliveries(self, job_id: str) -> list[Delivery]:
        """The webhook deliveries of a job, oldest first (for its owner to inspect)."""
        return await deliveries_for(self.db, job_id)

    def price_list(self) -> pricing.PriceList:
        """The prices every door shows (from `[pricing]` in the configuration)."""
        return pricing.price_list(self.settings.pricing)

    async def thumbnail(self, job: Job) -> bytes | None:
        """A PNG of a finished job's middle frame, or None when it has no video (yet)."""
        path = self.output_path(job)
        if path is None or not path.is_file():
            return None
        return await asyncio.to_thread(middle_frame_png, path)

    def output_url(self, job: Job) -> str | None:
        return self.storage.output_url(job.output) if job.output else None

    def output_path(self, job: Job) -> Path | None:
        return self.storage.output_path(job.output) if job.output else None


def _durations(resolved: dict) -> dict[str, float]:
    return {role: r.info.duration or 0.0 for role, r in resolved.items() if r.info.duration}


def _request_hash(request: JobRequest) -> str:
    body = {
        "model": request.model,
        "inputs": dict(request.inputs),
        "params": dict(request.params),
        "webhook": request.webhook,
    }
    if request.speech:  # only then: hashes of requests made before text inputs stay the same
        body["speech"] = {role: vars(text) for role, text in request.speech.items()}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _same_request(existing: Job, request_hash: str) -> Job:
    if existing.request_hash != request_hash:
        raise InvalidInput(
            "this Idempotency-Key was already used with a different request",
            code="idempotency_conflict",
        )
    return existing
