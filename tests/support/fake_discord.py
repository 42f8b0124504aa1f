"""A local fake of Discord, for driving the bot with discord.py's real HTTP and gateway layers.

The bot under test logs in, syncs its commands, opens the gateway (HELLO, IDENTIFY, READY,
heartbeats, RESUME), receives INTERACTION_CREATE over it, answers interactions, edits its
responses, uploads files and posts to channels exactly as it would against discord.com;
only `discord.http.Route.BASE` and `DiscordWebSocket.DEFAULT_GATEWAY` point here. Everything
is recorded (JSON bodies, multipart `payload_json`, uploaded file bytes, gateway frames) so
tests can assert on what users would see.

Why a fake that says no: a fake that accepts everything proves only that the bot talks,
not that Discord would listen. So the rules the bot's behaviour depends on are enforced
with the answers Discord gives, and every breach is also kept in `FakeDiscord.violations`
(tests assert it stays empty; a test that provokes one takes it with `take_violations`):

- the bot token: REST calls with another token get 401, IDENTIFY with another token is
  closed with 4004, privileged intents the app was not granted with 4014;
- an interaction must be acknowledged within 3 seconds of its INTERACTION_CREATE, else the
  callback gets 404 (10062, Unknown interaction) and its token never works;
- a callback's response type must suit the interaction (PONG only for PING, 6/7 only for
  components, 8 only for autocomplete, no modal for a modal submit), else 400 (50035);
- in a multipart request every `files[n]` part must be listed in `attachments` with
  id n, and every new attachment listed must come as a part, else 400 (50035);
- the first follow-up after a deferred response does not create a message: it edits the
  "thinking" message and keeps its visibility, so an ephemeral follow-up after a public
  defer is public. Discord does not refuse it; the fake records it as a violation, since a
  bot that sends it means it to be private;
- an interaction token dies 15 minutes after the interaction was created (401, 50027), an
  upload over the interaction's `attachment_size_limit` is refused (413, 40005), message
  content is at most 2000 characters and may not be empty (400, 50035 / 50006).

The fake also serves the test's files as attachment URLs and builds INTERACTION_CREATE
payloads (`FakeDiscord.command`) for `FakeDiscord.dispatch` to send down the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import json
import mimetypes
import re
import secrets
import socket
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from discord.utils import time_snowflake
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

API_PREFIX = "/api/v10"
GATEWAY_VERSION = "10"
TOKEN = "test-token"  # the bot token the fake accepts unless told another
TOKEN_LIFETIME = 15 * 60.0  # Discord's interaction tokens live 15 minutes
ACK_WINDOW = 3.0  # seconds Discord waits for an interaction's first response
HEARTBEAT_INTERVAL_MS = 41_250  # what Discord's HELLO says
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # attachment_size_limit of an unboosted server
MAX_CONTENT = 2000
EPHEMERAL = 64
APP_ID = 4242
BOT_ID = 4243
MANAGE_GUILD = 1 << 5
GUILDS_INTENT = 1 << 0
# GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT: need a switch in the developer portal.
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)
KNOWN_INTENTS = (1 << 26) - 1

# Gateway opcodes and the close codes the fake uses, as Discord documents them.
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT = 0, 1, 2, 6, 7
INVALID_SESSION, HELLO, HEARTBEAT_ACK = 9, 10, 11
CLIENT_OPS_AFTER_IDENTIFY = {3, 4, 8, 31}  # presence, voice state, members, soundboard
UNKNOWN_OPCODE, DECODE_ERROR, NOT_AUTHENTICATED, AUTHENTICATION_FAILED = 4001, 4002, 4003, 4004
ALREADY_AUTHENTICATED, INVALID_SEQ, INVALID_VERSION = 4005, 4007, 4012
INVALID_INTENTS, DISALLOWED_INTENTS = 4013, 4014

# Interaction types and the callback types each may get (Discord answers others with 50035).
PING, APPLICATION_COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CALLBACK_TYPES: dict[int, set[int]] = {
    1: {PING},  # PONG
    4: {APPLICATION_COMMAND, COMPONENT, MODAL_SUBMIT},  # CHANNEL_MESSAGE_WITH_SOURCE
    5: {APPLICATION_COMMAND, COMPONENT, MODAL_SUBMIT},  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
    6: {COMPONENT},  # DEFERRED_UPDATE_MESSAGE
    7: {COMPONENT},  # UPDATE_MESSAGE
    8: {AUTOCOMPLETE},  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
    9: {APPLICATION_COMMAND, COMPONENT},  # MODAL (not in answer to a modal submit)
}
FILE_PART = re.compile(r"files\[(\d+)\]")


@dataclass
class Call:
    """One request the bot made: where, the JSON (or multipart payload_json), the files."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    files: dict[str, tuple[str, bytes]]
    status: int = 200
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Violation:
    """A rule of Discord's the bot broke: which (short name), what exactly, in which call."""

    rule: str
    detail: str
    call: Call | None = None


@dataclass
class Message:
    """A message as the fake holds it: an interaction response, a followup, a channel post."""

    id: int
    channel_id: int
    content: str = ""
    flags: int = 0
    files: list[tuple[str, bytes]] = field(default_factory=list)
    deleted: bool = False
    edits: int = 0
    attachment_ids: list[int] = field(default_factory=list)  # parallel to `files`

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)


@dataclass(frozen=True)
class FakeFile:
    """A file the test uploaded to 'Discord': served at `url`, described by `payload`."""

    id: int
    filename: str
    size: int
    content_type: str | None
    url: str

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type is not None:
            data["content_type"] = self.content_type
        return data


@dataclass(frozen=True)
class FakeUser:
    id: int
    name: str = "someone"

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
        }


BOT_USER = FakeUser(BOT_ID, "lipsync-bot")


@dataclass(frozen=True)
class FakeChannel:
    id: int
    name: str = "general"

    def payload(self, guild_id: int | None) -> dict[str, Any]:
        """As an interaction carries it (with the app's permissions there)."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": 0,
            "name": self.name,
            "position": 0,
            "permissions": "0",
        }
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        return data

    def guild_payload(self, position: int) -> dict[str, Any]:
        """As GUILD_CREATE lists it."""
        return {
            "id": str(self.id),
            "type": 0,
            "name": self.name,
            "position": position,
            "permission_overwrites": [],
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": None,
        }


@dataclass(frozen=True)
class FakeGuild:
    """A server the bot is in: announced in READY (unavailable) and then by GUILD_CREATE."""

    id: int
    name: str = "test server"
    channels: tuple[FakeChannel, ...] = (FakeChannel(2000),)

    def payload(self) -> dict[str, Any]:
        everyone = {
            "id": str(self.id),
            "name": "@everyone",
            "permissions": str((1 << 41) - 1 - MANAGE_GUILD - 8),  # no admin, no manage
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        bot_member = {
            "user": {**BOT_USER.payload(), "bot": True},
            "roles": [],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_id": "1",
            "unavailable": False,
            "large": False,
            "member_count": 2,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "roles": [everyone],
            "emojis": [],
            "stickers": [],
            "features": [],
            "channels": [c.guild_payload(i) for i, c in enumerate(self.channels)],
            "threads": [],
            "members": [bot_member],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "afk_timeout": 300,
            "afk_channel_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "application_id": None,
        }


@dataclass
class Interaction:
    """What the fake knows about an interaction it handed out: for checks and expiry."""

    id: int
    token: str
    channel_id: int
    created: float  # unix time, from the snowflake
    upload_limit: int
    kind: int = APPLICATION_COMMAND  # the interaction's type
    dispatched: float | None = None  # monotonic time of its INTERACTION_CREATE
    callback: dict[str, Any] | None = None
    original: Message | None = None
    loading: bool = False  # deferred, and neither edited, deleted nor followed up yet
    followups: list[Message] = field(default_factory=list)


@dataclass
class GatewaySession:
    """An identified gateway session: its sequence, and what was sent (for RESUME)."""

    id: str
    intents: int
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    link: _Link | None = None


class _Link:
    """One gateway websocket: sends JSON frames, zlib-stream compressed if asked to."""

    def __init__(self, websocket: WebSocket, *, compress: bool) -> None:
        self.websocket = websocket
        # zlib-stream: one deflate context for the connection's life; each frame ends with
        # a sync flush (0x0000ffff), which is how discord.py knows a message is complete.
        self.deflate = zlib.compressobj() if compress else None
        self.lock = asyncio.Lock()
        self.session: GatewaySession | None = None
        self.alive = True

    async def send(self, frame: dict[str, Any]) -> None:
        if not self.alive:
            return
        text = json.dumps(frame, separators=(",", ":"))
        async with self.lock:  # compressing and sending must stay in step
            try:
                if self.deflate is None:
                    await self.websocket.send_text(text)
                else:
                    data = self.deflate.compress(text.encode())
                    await self.websocket.send_bytes(data + self.deflate.flush(zlib.Z_SYNC_FLUSH))
            except (RuntimeError, OSError, WebSocketDisconnect):
                self.alive = False  # the frame stays in the session, for a RESUME


class FakeDiscord:
    """The fake API plus the test-side helpers; use `async with FakeDiscord(dir) as fake`."""

    def __init__(
        self,
        files_dir: Path,
        *,
        token: str = TOKEN,
        guilds: tuple[FakeGuild, ...] = (FakeGuild(1000),),
        privileged_intents: int = 0,
    ) -> None:
        self.files_dir = files_dir
        self.token = token
        self.guilds = guilds
        self.privileged_intents = privileged_intents  # those switched on for the app
        self.ack_window = ACK_WINDOW
        self.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS
        self.calls: list[Call] = []
        self.violations: list[Violation] = []
        self.interactions: dict[str, Interaction] = {}
        self.channel_messages: list[Message] = []
        self.synced_commands: list[dict[str, Any]] = []
        # The gateway, as seen from here.
        self.identified: list[dict[str, Any]] = []  # IDENTIFY payloads, in order
        self.heartbeats = 0
        self.resumes = 0
        self.closes: list[tuple[str, int | None]] = []  # ("fake" | "client", close code)
        self._sessions: dict[str, GatewaySession] = {}
        self._session: GatewaySession | None = None  # the latest identified or resumed
        self._files: dict[int, Path] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What `discord.http.Route.BASE` must be set to."""
        return self.base + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """What `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` must be set to (a yarl
        URL), so the client opens its gateway here, not at discord.gg."""
        return self.base.replace("http://", "ws://") + "/gateway"

    @property
    def resume_gateway_url(self) -> str:
        """Where READY tells the client to resume (a path of its own, to prove it does)."""
        return self.base.replace("http://", "ws://") + "/resume-gateway"

    async def __aenter__(self) -> FakeDiscord:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(), log_level="warning", lifespan="off", ws="websockets-sansio"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        for _ in range(200):
            if self._server.started:
                break
            await asyncio.sleep(0.02)
        else:
            raise RuntimeError("the fake Discord API did not start")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5)
        if self._socket is not None:
            self._socket.close()

    # -- test-side helpers -------------------------------------------------------------

    def add_file(
        self, path: Path, *, content_type: str | None = "", filename: str = ""
    ) -> FakeFile:
        """Serve `path` as a Discord attachment. content_type "" = guess; None = omit it."""
        file_id = self._snowflake()
        name = filename or path.name
        if content_type == "":
            content_type = mimetypes.guess_type(name)[0]
        self._files[file_id] = path
        return FakeFile(
            id=file_id,
            filename=name,
            size=path.stat().st_size,
            content_type=content_type,
            url=f"{self.base}/attachments/{file_id}/{name}",
        )

    def command(
        self,
        name: str,
        *subcommand: str,
        options: dict[str, Any] | None = None,
        user: FakeUser,
        guild_id: int | None = 1000,
        channel: FakeChannel | None = None,
        permissions: int = 0,
        age_seconds: float = 0.0,
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for `/name subcommand... option:value`.

        Option values: str, int, bool, FakeFile (an attachment), FakeUser, FakeChannel.
        `age_seconds` back-dates the interaction (its id is a snowflake of that time), which
        is how a test gets near the end of its 15-minute token. Send it with `dispatch`.
        """
        channel = channel or FakeChannel(2000)
        created = time.time() - age_seconds
        interaction_id = time_snowflake(
            datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
        ) + next(self._ids)
        token = f"tok{interaction_id}"
        resolved: dict[str, dict[str, Any]] = {}
        leaf = [self._option(k, v, resolved, guild_id) for k, v in (options or {}).items()]
        for sub in reversed(subcommand):
            kind = 1 if sub == subcommand[-1] else 2
            leaf = [{"name": sub, "type": kind, "options": leaf}]
        data: dict[str, Any] = {"id": str(self._snowflake()), "name": name, "type": 1}
        if leaf:
            data["options"] = leaf
        if resolved:
            data["resolved"] = resolved
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(APP_ID),
            "type": APPLICATION_COMMAND,
            "token": token,
            "version": 1,
            "data": data,
            "channel_id": str(channel.id),
            "channel": channel.payload(guild_id),
            "app_permissions": str((1 << 41) - 1),
            "locale": "en-US",
            "attachment_size_limit": upload_limit,
            "entitlements": [],
            "authorizing_integration_owners": {},
            "context": 0 if guild_id else 1,
        }
        if guild_id is not None:
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = "en-US"
            payload["member"] = {
                "user": user.payload(),
                "roles": [],
                "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str(permissions),
            }
        else:
            payload["user"] = user.payload()
        self.interactions[token] = Interaction(
            id=interaction_id,
            token=token,
            channel_id=channel.id,
            created=created,
            upload_limit=upload_limit,
        )
        return payload

    def interaction(self, payload: dict[str, Any]) -> Interaction:
        return self.interactions[payload["token"]]

    @property
    def connected(self) -> bool:
        """Whether a client has identified (or resumed) and its websocket is still open."""
        session = self._session
        return session is not None and session.link is not None and session.link.alive

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until a client is connected and READY (and its GUILD_CREATEs) went out."""
        await self.wait_for(lambda: self.connected, timeout)

    async def dispatch(self, payload: dict[str, Any]) -> Interaction:
        """Send an INTERACTION_CREATE (from `command`) down the gateway; the 3-second
        window for its acknowledgement starts now. While the client is reconnecting the
        event waits in the session and goes out when it resumes, as on Discord."""
        session = self._session
        if session is None:
            raise RuntimeError("no client has identified with the fake gateway")
        known = self.interaction(payload)
        known.dispatched = time.monotonic()
        await self._dispatch(session, "INTERACTION_CREATE", payload)
        return known

    async def reconnect(self) -> None:
        """Ask the client to reconnect (op 7), as Discord does before moving a session."""
        session = self._session
        if session is not None and session.link is not None:
            await session.link.send({"op": RECONNECT, "d": None, "s": None, "t": None})

    def forget_sessions(self) -> None:
        """Make every session unresumable: a RESUME then gets op 9 (INVALID_SESSION, d=false)
        and the client must IDENTIFY again, as after a long outage."""
        self._sessions.clear()

    def rejected(self) -> list[Call]:
        """Calls the fake refused (expired token, too large, unknown route, a broken rule)."""
        return [c for c in self.calls if c.status >= 400]

    def take_violations(self) -> list[Violation]:
        """The violations so far, which the test now owns (the list is emptied)."""
        taken, self.violations = self.violations, []
        return taken

    async def wait_for(self, predicate: Any, timeout: float = 60.0) -> None:
        """Wait until `predicate()` holds, re-checking after every recorded call or frame."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out; calls so far: {self.summary()}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    def summary(self) -> list[str]:
        return [f"{c.method} {c.path} -> {c.status}" for c in self.calls]

    # -- the gateway -------------------------------------------------------------------

    async def _gateway(self, websocket: WebSocket) -> None:
        """One gateway connection: HELLO, then heartbeats, IDENTIFY or RESUME, dispatches."""
        query = dict(websocket.query_params)
        self.calls.append(Call("GET", websocket.url.path, query, None, {}, 101))
        self._changed.set()
        await websocket.accept()
        if query.get("v") != GATEWAY_VERSION:
            await self._close(websocket, INVALID_VERSION, "Invalid API version.")
            return
        if query.get("encoding", "json") != "json" or query.get("compress") not in (
            None,
            "zlib-stream",
        ):
            # Discord also speaks ETF and zstd-stream; this fake does not.
            await self._close(websocket, DECODE_ERROR, "The fake speaks json and zlib-stream.")
            return
        link = _Link(websocket, compress=query.get("compress") == "zlib-stream")
        hello = {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-gateway"]}
        await link.send({"op": HELLO, "d": hello, "s": None, "t": None})
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    self._client_closed(link, message.get("code"))
                    return
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode(errors="replace")
                code, reason = await self._on_frame(link, text)
                if code:
                    link.alive = False
                    await self._close(websocket, code, reason)
                    return
        finally:
            link.alive = False
            if link.session is not None and link.session.link is link:
                link.session.link = None
            self._changed.set()

    async def _on_frame(self, link: _Link, text: str) -> tuple[int, str]:
        """Handle one frame from the client; a close code and reason if it broke a rule."""
        try:
            frame = json.loads(text)
            op, data = frame["op"], frame.get("d")
        except (ValueError, KeyError, TypeError):
            return DECODE_ERROR, "Error while decoding payload."
        if op == HEARTBEAT:
            self.heartbeats += 1
            await link.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            return 0, ""
        if op == IDENTIFY:
            return await self._identify(link, data)
        if op == RESUME:
            return await self._resume(link, data)
        if op in CLIENT_OPS_AFTER_IDENTIFY:
            if link.session is None:
                return NOT_AUTHENTICATED, "Not authenticated."
            return 0, ""
        return UNKNOWN_OPCODE, "Unknown opcode."

    async def _identify(self, link: _Link, data: Any) -> tuple[int, str]:
        if link.session is not None:
            return ALREADY_AUTHENTICATED, "Already authenticated."
        if not isinstance(data, dict) or data.get("token") != self.token:
            return AUTHENTICATION_FAILED, "Authentication failed."
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~KNOWN_INTENTS:
            return INVALID_INTENTS, "Invalid intent(s)."
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            return DISALLOWED_INTENTS, "Disallowed intent(s)."
        self.identified.append(data)
        session = GatewaySession(id=secrets.token_hex(16), intents=intents)
        self._sessions[session.id] = session
        link.session, session.link = session, link
        ready = {
            "v": int(GATEWAY_VERSION),
            "user": {**BOT_USER.payload(), "bot": True, "verified": True, "flags": 0},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in self.guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "_trace": ["fake-gateway"],
        }
        await self._dispatch(session, "READY", ready)
        if intents & GUILDS_INTENT:  # without it Discord sends no GUILD_CREATE
            for guild in self.guilds:
                await self._dispatch(session, "GUILD_CREATE", guild.payload())
        self._session = session
        self._changed.set()
        return 0, ""

    async def _resume(self, link: _Link, data: Any) -> tuple[int, str]:
        if link.session is not None:
            return ALREADY_AUTHENTICATED, "Already authenticated."
        if not isinstance(data, dict) or data.get("token") != self.token:
            return AUTHENTICATION_FAILED, "Authentication failed."
        session = self._sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        if session is None or not isinstance(seq, int):
            # Not resumable: op 9 with d=false, and the client identifies afresh.
            await link.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return 0, ""
        if seq > session.seq:
            return INVALID_SEQ, "Invalid seq."
        link.session, session.link = session, link
        for frame in session.sent:
            if frame["s"] > seq:
                await link.send(frame)
        await self._dispatch(session, "RESUMED", {"_trace": ["fake-gateway"]})
        self.resumes += 1
        self._session = session
        self._changed.set()
        return 0, ""

    async def _dispatch(self, session: GatewaySession, event: str, data: Any) -> None:
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.sent.append(frame)
        if session.link is not None:
            await session.link.send(frame)

    def _client_closed(self, link: _Link, code: int | None) -> None:
        self.closes.append(("client", code))
        if code in (1000, 1001) and link.session is not None:
            # A clean close ends the session (Discord: the bot goes offline).
            self._sessions.pop(link.session.id, None)
            if self._session is link.session:
                self._session = None

    async def _close(self, websocket: WebSocket, code: int, reason: str) -> None:
        self.closes.append(("fake", code))
        self.violations.append(Violation("gateway", f"closed with {code}: {reason}"))
        self._changed.set()
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(code=code, reason=reason)

    # -- the HTTP API ------------------------------------------------------------------

    def app(self) -> Starlette:
        p = API_PREFIX
        routes = [
            Route(p + "/users/@me", self._me, methods=["GET"]),
            Route(p + "/oauth2/applications/@me", self._application, methods=["GET"]),
            Route(p + "/applications/{app}/commands", self._sync, methods=["PUT"]),
            WebSocketRoute("/gateway", self._gateway),
            WebSocketRoute("/resume-gateway", self._gateway),
            Route(p + "/interactions/{iid}/{token}/callback", self._callback, methods=["POST"]),
            Route(
                p + "/webhooks/{app}/{token}/messages/@original",
                self._original,
                methods=["GET", "PATCH", "DELETE"],
            ),
            Route(p + "/webhooks/{app}/{token}", self._followup, methods=["POST"]),
            Route(p + "/channels/{channel}/messages", self._channel_post, methods=["POST"]),
            Route("/attachments/{fid}/{name}", self._download, methods=["GET"]),
            Route("/{rest:path}", self._unknown, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
        ]
        return Starlette(routes=routes)

    async def _record(self, request: Request) -> Call:
        body: Any = None
        files: dict[str, tuple[str, bytes]] = {}
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            async with request.form(max_part_size=1024**3) as form:
                for key, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        files[key] = (value.filename or key, await value.read())
                    elif key == "payload_json":
                        body = json.loads(value)
        else:
            raw = await request.body()
            body = json.loads(raw) if raw else None
        path = request.url.path.removeprefix(API_PREFIX)
        call = Call(request.method, path, dict(request.query_params), body, files)
        self.calls.append(call)
        self._changed.set()
        return call

    def _refuse(self, call: Call, status: int, code: int, message: str, why: str) -> Response:
        """Answer as Discord would, and keep the breach in `violations`."""
        call.status = status
        self.violations.append(Violation(f"{status} {code}", why, call))
        return JSONResponse({"code": code, "message": message}, status_code=status)

    def _invalid(self, call: Call, why: str) -> Response:
        return self._refuse(call, 400, 50035, "Invalid Form Body", why)

    def _unauthorized(self, request: Request, call: Call) -> Response | None:
        if request.headers.get("authorization") == f"Bot {self.token}":
            return None
        return self._refuse(call, 401, 0, "401: Unauthorized", "not the bot's token")

    def _check_token(self, call: Call, token: str) -> tuple[Interaction | None, Response | None]:
        """A webhook call with an interaction token: alive only once acknowledged in time."""
        known = self.interactions.get(token)
        if known is None or known.dispatched is None or known.callback is None:
            why = "an interaction token that was never (or not yet) acknowledged"
            return None, self._refuse(call, 404, 10015, "Unknown Webhook", why)
        if time.time() >= known.created + TOKEN_LIFETIME:
            why = "an interaction token used after its 15 minutes"
            return None, self._refuse(call, 401, 50027, "Invalid Webhook Token", why)
        return known, None

    def _message_problem(self, call: Call, body: dict[str, Any], limit: int) -> Response | None:
        """Content over 2000 characters (400), an upload over the limit (413)."""
        content = body.get("content")
        if isinstance(content, str) and len(content) > MAX_CONTENT:
            return self._invalid(call, f"content is {len(content)} characters (max 2000)")
        if any(len(data) > limit for _, data in call.files.values()):
            why = f"an upload over the limit of {limit} bytes"
            return self._refuse(call, 413, 40005, "Request entity too large", why)
        return None

    def _attachments_problem(
        self, call: Call, body: dict[str, Any], kept: Message | None = None
    ) -> Response | None:
        """Every `files[n]` part needs `{"id": n}` in `attachments`, and every new entry
        there a part; ids of `kept`'s existing attachments may be listed to keep them."""
        parts: set[int] = set()
        for key in call.files:
            match = FILE_PART.fullmatch(key)
            if match is None:
                return self._invalid(call, f"a file part named {key!r}, not files[n]")
            parts.add(int(match[1]))
        listed = body.get("attachments")
        if listed is None:
            if parts:
                return self._invalid(call, "files[n] parts without an `attachments` list")
            return None
        existing = set(kept.attachment_ids) if kept is not None else set()
        wanted: set[int] = set()
        for entry in listed:
            try:
                number = int(entry["id"])
            except (KeyError, TypeError, ValueError):
                return self._invalid(call, f"an attachment without a usable id: {entry!r}")
            if number not in existing:
                wanted.add(number)
        if wanted != parts:
            why = f"files[n] parts {sorted(parts)} do not match attachments {sorted(wanted)}"
            return self._invalid(call, why)
        return None

    def _uploads(self, call: Call, body: dict[str, Any]) -> list[tuple[str, bytes]]:
        """The new files, in the order `attachments` lists them."""
        order = [int(e["id"]) for e in body.get("attachments") or []]
        return [call.files[f"files[{n}]"] for n in order if f"files[{n}]" in call.files]

    def _new_message(
        self, call: Call, body: dict[str, Any], channel_id: int
    ) -> tuple[Message | None, Response | None]:
        files = self._uploads(call, body)
        content = body.get("content") or ""
        if not (content or files or body.get("embeds") or body.get("components")):
            return None, self._refuse(
                call, 400, 50006, "Cannot send an empty message", "an empty message"
            )
        message = Message(
            id=self._snowflake(),
            channel_id=channel_id,
            content=content,
            flags=body.get("flags") or 0,
            files=files,
            attachment_ids=[self._snowflake() for _ in files],
        )
        return message, None

    async def _me(self, request: Request) -> Response:
        call = await self._record(request)
        refusal = self._unauthorized(request, call)
        if refusal is not None:
            return refusal
        return JSONResponse({**BOT_USER.payload(), "bot": True})

    async def _application(self, request: Request) -> Response:
        call = await self._record(request)
        refusal = self._unauthorized(request, call)
        if refusal is not None:
            return refusal
        return JSONResponse(
            {
                "id": str(APP_ID),
                "name": "lipsync",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": FakeUser(1, "owner").payload(),
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def _sync(self, request: Request) -> Response:
        call = await self._record(request)
        refusal = self._unauthorized(request, call)
        if refusal is not None:
            return refusal
        self.synced_commands = [
            {
                "id": str(self._snowflake()),
                "application_id": str(APP_ID),
                "version": "1",
                "default_member_permissions": None,
                "dm_permission": True,
                "nsfw": False,
                **command,
            }
            for command in call.body
        ]
        return JSONResponse(self.synced_commands)

    async def _callback(self, request: Request) -> Response:
        call = await self._record(request)
        known = self.interactions.get(request.path_params["token"])
        if known is None or str(known.id) != request.path_params["iid"]:
            why = "a callback for an interaction Discord never sent"
            return self._refuse(call, 404, 10062, "Unknown interaction", why)
        if known.callback is not None:
            why = "a second callback for one interaction"
            return self._refuse(call, 400, 40060, "Interaction has already been acknowledged", why)
        if known.dispatched is None:
            why = "a callback for an interaction not delivered through the gateway"
            return self._refuse(call, 404, 10062, "Unknown interaction", why)
        took = call.at - known.dispatched
        if took > self.ack_window:
            why = f"acknowledged {took:.2f} s after INTERACTION_CREATE ({self.ack_window:g} s)"
            return self._refuse(call, 404, 10062, "Unknown interaction", why)
        body = call.body if isinstance(call.body, dict) else {}
        kind = body.get("type")
        if known.kind not in CALLBACK_TYPES.get(kind, set()):  # type: ignore[arg-type]
            why = f"callback type {kind!r} in answer to an interaction of type {known.kind}"
            return self._invalid(call, why)
        data = body.get("data") or {}
        refusal = self._attachments_problem(call, data) or self._message_problem(
            call, data, known.upload_limit
        )
        if refusal is not None:
            return refusal
        message: Message | None = None
        if kind == 4:
            message, refusal = self._new_message(call, data, known.channel_id)
            if refusal is not None:
                return refusal
        elif kind == 5:
            message = Message(
                id=self._snowflake(), channel_id=known.channel_id, flags=data.get("flags") or 0
            )
        known.callback = body
        known.original = message
        known.loading = kind == 5
        resource: dict[str, Any] = {"type": kind}
        interaction: dict[str, Any] = {"id": str(known.id), "type": known.kind}
        if message is not None:
            resource["message"] = self._payload(message)
            interaction |= {
                "response_message_id": str(message.id),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": message.ephemeral,
            }
        return JSONResponse({"interaction": interaction, "resource": resource})

    async def _original(self, request: Request) -> Response:
        call = await self._record(request)
        known, refusal = self._check_token(call, request.path_params["token"])
        if refusal is not None or known is None:
            return refusal or Response(status_code=500)
        message = known.original
        if message is None or message.deleted:
            return self._refuse(call, 404, 10008, "Unknown Message", "no original response")
        if request.method == "DELETE":
            message.deleted = True
            known.loading = False
            call.status = 204
            return Response(status_code=204)
        if request.method == "PATCH":
            body = call.body or {}
            refusal = self._attachments_problem(call, body, message) or self._message_problem(
                call, body, known.upload_limit
            )
            if refusal is not None:
                return refusal
            self._apply_edit(message, call, body)
            known.loading = False
        return JSONResponse(self._payload(message))

    async def _followup(self, request: Request) -> Response:
        call = await self._record(request)
        known, refusal = self._check_token(call, request.path_params["token"])
        if refusal is not None or known is None:
            return refusal or Response(status_code=500)
        body = call.body or {}
        refusal = self._attachments_problem(call, body) or self._message_problem(
            call, body, known.upload_limit
        )
        if refusal is not None:
            return refusal
        message, refusal = self._new_message(call, body, known.channel_id)
        if refusal is not None or message is None:
            return refusal or Response(status_code=500)
        original = known.original
        if known.loading and original is not None and not original.deleted:
            # Discord: the first follow-up after a deferred response edits the "thinking"
            # message instead of creating one, and cannot change its visibility.
            if message.ephemeral and not original.ephemeral:
                why = "an ephemeral follow-up right after a public defer: it was shown to all"
                self.violations.append(Violation("ephemeral ignored", why, call))
            original.content = message.content
            original.files, original.attachment_ids = message.files, message.attachment_ids
            original.edits += 1
            known.loading = False
            return JSONResponse(self._payload(original))
        known.followups.append(message)
        return JSONResponse(self._payload(message))

    async def _channel_post(self, request: Request) -> Response:
        call = await self._record(request)
        body = call.body or {}
        refusal = (
            self._unauthorized(request, call)
            or self._attachments_problem(call, body)
            or self._message_problem(call, body, DEFAULT_UPLOAD_LIMIT)
        )
        if refusal is not None:
            return refusal
        message, refusal = self._new_message(call, body, int(request.path_params["channel"]))
        if refusal is not None or message is None:
            return refusal or Response(status_code=500)
        self.channel_messages.append(message)
        return JSONResponse(self._payload(message))

    async def _download(self, request: Request) -> Response:
        call = await self._record(request)
        path = self._files.get(int(request.path_params["fid"]))
        if path is None:
            return self._refuse(call, 404, 0, "no such attachment", "an unknown attachment")
        return FileResponse(path, media_type="application/octet-stream")

    async def _unknown(self, request: Request) -> Response:
        call = await self._record(request)
        why = f"the fake does not serve {request.method} {request.url.path}"
        return self._refuse(call, 404, 0, why, why)

    # -- payloads ----------------------------------------------------------------------

    def _apply_edit(self, message: Message, call: Call, body: dict[str, Any]) -> None:
        if "content" in body:
            message.content = body["content"] or ""
        if "attachments" in body:
            # Discord keeps the listed existing attachments; new ones arrive as files[n].
            listed = {str(a["id"]) for a in body["attachments"]}
            kept = [
                (i, f)
                for i, f in zip(message.attachment_ids, message.files, strict=True)
                if str(i) in listed
            ]
            uploads = self._uploads(call, body)
            message.attachment_ids = [i for i, _ in kept] + [self._snowflake() for _ in uploads]
            message.files = [f for _, f in kept] + uploads
        message.edits += 1

    def _payload(self, message: Message) -> dict[str, Any]:
        return {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": {**BOT_USER.payload(), "bot": True},
            "content": message.content,
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [
                {
                    "id": str(attachment_id),
                    "filename": name,
                    "size": len(data),
                    "url": f"{self.base}/sent/{name}",
                    "proxy_url": f"{self.base}/sent/{name}",
                }
                for attachment_id, (name, data) in zip(
                    message.attachment_ids, message.files, strict=True
                )
            ],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": message.flags,
        }

    def _option(
        self, name: str, value: Any, resolved: dict[str, dict[str, Any]], guild_id: int | None
    ) -> dict[str, Any]:
        if isinstance(value, FakeFile):
            resolved.setdefault("attachments", {})[str(value.id)] = value.payload()
            return {"name": name, "type": 11, "value": str(value.id)}
        if isinstance(value, FakeUser):
            resolved.setdefault("users", {})[str(value.id)] = value.payload()
            return {"name": name, "type": 6, "value": str(value.id)}
        if isinstance(value, FakeChannel):
            resolved.setdefault("channels", {})[str(value.id)] = value.payload(guild_id)
            return {"name": name, "type": 7, "value": str(value.id)}
        if isinstance(value, bool):
            return {"name": name, "type": 5, "value": value}
        if isinstance(value, int):
            return {"name": name, "type": 4, "value": value}
        return {"name": name, "type": 3, "value": str(value)}

    def _snowflake(self) -> int:
        return time_snowflake(datetime.datetime.now(datetime.UTC)) + next(self._ids)
