"""`FakeDiscord` itself: the shared state, the server's lifecycle, the test-side helpers.

The class joins the gateway half (`GatewayMixin`) and the REST half (`RestApiMixin`) into
one Starlette app served by uvicorn on a free local port, holds everything both halves
record, and gives tests what they drive the fake with: files to serve, INTERACTION_CREATE
payloads to build and dispatch, reconnects, and waits on what the bot did.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import mimetypes
import socket
import time
from pathlib import Path
from typing import Any

import uvicorn
from discord.utils import time_snowflake
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from tests.support.fake_discord.gateway import GatewayMixin, GatewaySession
from tests.support.fake_discord.model import (
    ACK_WINDOW,
    API_PREFIX,
    APP_ID,
    APPLICATION_COMMAND,
    DEFAULT_UPLOAD_LIMIT,
    HEARTBEAT_INTERVAL_MS,
    RECONNECT,
    TOKEN,
    Call,
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeUser,
    Interaction,
    Message,
    Violation,
)
from tests.support.fake_discord.rest_api import RestApiMixin


class FakeDiscord(GatewayMixin, RestApiMixin):
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

    # -- payloads ----------------------------------------------------------------------

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
