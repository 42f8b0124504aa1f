"""A local fake of the Discord HTTP API, for driving the bot with discord.py's real HTTP layer.

The bot under test logs in, syncs its commands, answers interactions, edits its responses,
uploads files and posts to channels exactly as it would against discord.com; only
`discord.http.Route.BASE` points here instead. Everything is recorded (JSON bodies,
multipart `payload_json`, uploaded file bytes) so tests can assert on what users would see.

Two rules of the real API are enforced because the bot's behaviour depends on them:
an interaction token dies 15 minutes after the interaction was created (webhook calls are
then refused with 401, code 50027), and an upload larger than the interaction's
`attachment_size_limit` is refused with 413 (code 40005). The fake also serves the test's
files as attachment URLs and builds INTERACTION_CREATE payloads (`FakeDiscord.command`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import json
import mimetypes
import socket
import time
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
from starlette.websockets import WebSocket

API_PREFIX = "/api/v10"
TOKEN_LIFETIME = 15 * 60.0  # Discord's interaction tokens live 15 minutes
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # attachment_size_limit of an unboosted server
EPHEMERAL = 64
APP_ID = 4242
BOT_ID = 4243
MANAGE_GUILD = 1 << 5


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


@dataclass(frozen=True)
class FakeChannel:
    id: int
    name: str = "general"

    def payload(self, guild_id: int | None) -> dict[str, Any]:
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


@dataclass
class Interaction:
    """What the fake knows about an interaction it handed out: for checks and expiry."""

    id: int
    token: str
    channel_id: int
    created: float  # unix time, from the snowflake
    upload_limit: int
    callback: dict[str, Any] | None = None
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)


class FakeDiscord:
    """The fake API plus the test-side helpers; use `async with FakeDiscord(dir) as fake`."""

    def __init__(self, files_dir: Path) -> None:
        self.files_dir = files_dir
        self.calls: list[Call] = []
        self.interactions: dict[str, Interaction] = {}
        self.channel_messages: list[Message] = []
        self.synced_commands: list[dict[str, Any]] = []
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
        URL), so a client that goes on to connect knocks here, not at discord.gg."""
        return self.base.replace("http://", "ws://") + "/gateway"

    async def __aenter__(self) -> FakeDiscord:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app(), log_level="warning", lifespan="off")
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
        is how a test gets near the end of its 15-minute token.
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
            "type": 2,
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

    def rejected(self) -> list[Call]:
        """Calls the fake refused (expired token, too large, unknown route)."""
        return [c for c in self.calls if c.status >= 400]

    async def wait_for(self, predicate: Any, timeout: float = 60.0) -> None:
        """Wait until `predicate()` holds, re-checking after every recorded call."""
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

    # -- the fake API ------------------------------------------------------------------

    def app(self) -> Starlette:
        p = API_PREFIX
        routes = [
            Route(p + "/users/@me", self._me, methods=["GET"]),
            Route(p + "/oauth2/applications/@me", self._application, methods=["GET"]),
            Route(p + "/applications/{app}/commands", self._sync, methods=["PUT"]),
            WebSocketRoute("/gateway", self._gateway),
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
            form = await request.form(max_part_size=1024**3)
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

    def _refuse(self, call: Call, status: int, code: int, message: str) -> Response:
        call.status = status
        return JSONResponse({"code": code, "message": message}, status_code=status)

    def _check_token(self, call: Call, token: str) -> tuple[Interaction | None, Response | None]:
        known = self.interactions.get(token)
        if known is None:
            return None, self._refuse(call, 404, 10015, "Unknown Webhook")
        if time.time() >= known.created + TOKEN_LIFETIME:
            return None, self._refuse(call, 401, 50027, "Invalid Webhook Token")
        return known, None

    def _too_large(self, call: Call, limit: int) -> Response | None:
        if any(len(data) > limit for _, data in call.files.values()):
            return self._refuse(call, 413, 40005, "Request entity too large")
        return None

    async def _me(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({**FakeUser(BOT_ID, "lipsync-bot").payload(), "bot": True})

    async def _application(self, request: Request) -> Response:
        await self._record(request)
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

    async def _gateway(self, websocket: WebSocket) -> None:
        """Where the gateway websocket would open: refused, so the client keeps retrying."""
        self.calls.append(Call("GET", "/gateway", dict(websocket.query_params), None, {}, 403))
        self._changed.set()
        await websocket.close()

    async def _callback(self, request: Request) -> Response:
        call = await self._record(request)
        token = request.path_params["token"]
        known, refusal = self._check_token(call, token)
        if refusal is not None or known is None:
            return refusal or Response(status_code=500)
        if known.callback is not None:
            return self._refuse(call, 400, 40060, "Interaction has already been acknowledged")
        known.callback = call.body
        data = call.body.get("data") or {}
        message = Message(
            id=self._snowflake(),
            channel_id=known.channel_id,
            content=data.get("content") or "",
            flags=data.get("flags") or 0,
            files=list(call.files.values()),
        )
        known.original = message
        return JSONResponse(
            {
                "interaction": {
                    "id": str(known.id),
                    "type": 2,
                    "response_message_id": str(message.id),
                    "response_message_loading": call.body["type"] == 5,
                    "response_message_ephemeral": message.ephemeral,
                },
                "resource": {"type": call.body["type"], "message": self._payload(message)},
            }
        )

    async def _original(self, request: Request) -> Response:
        call = await self._record(request)
        known, refusal = self._check_token(call, request.path_params["token"])
        if refusal is not None or known is None:
            return refusal or Response(status_code=500)
        message = known.original
        if message is None or message.deleted:
            return self._refuse(call, 404, 10008, "Unknown Message")
        if request.method == "DELETE":
            message.deleted = True
            call.status = 204
            return Response(status_code=204)
        if request.method == "PATCH":
            too_large = self._too_large(call, known.upload_limit)
            if too_large is not None:
                return too_large
            self._apply_edit(message, call)
        return JSONResponse(self._payload(message))

    async def _followup(self, request: Request) -> Response:
        call = await self._record(request)
        known, refusal = self._check_token(call, request.path_params["token"])
        if refusal is not None or known is None:
            return refusal or Response(status_code=500)
        too_large = self._too_large(call, known.upload_limit)
        if too_large is not None:
            return too_large
        body = call.body or {}
        message = Message(
            id=self._snowflake(),
            channel_id=known.channel_id,
            content=body.get("content") or "",
            flags=body.get("flags") or 0,
            files=list(call.files.values()),
        )
        known.followups.append(message)
        return JSONResponse(self._payload(message))

    async def _channel_post(self, request: Request) -> Response:
        call = await self._record(request)
        too_large = self._too_large(call, DEFAULT_UPLOAD_LIMIT)
        if too_large is not None:
            return too_large
        body = call.body or {}
        message = Message(
            id=self._snowflake(),
            channel_id=int(request.path_params["channel"]),
            content=body.get("content") or "",
            flags=body.get("flags") or 0,
            files=list(call.files.values()),
        )
        self.channel_messages.append(message)
        return JSONResponse(self._payload(message))

    async def _download(self, request: Request) -> Response:
        call = await self._record(request)
        path = self._files.get(int(request.path_params["fid"]))
        if path is None:
            return self._refuse(call, 404, 0, "no such attachment")
        return FileResponse(path, media_type="application/octet-stream")

    async def _unknown(self, request: Request) -> Response:
        call = await self._record(request)
        return self._refuse(call, 404, 0, f"the fake does not serve {request.url.path}")

    # -- payloads ----------------------------------------------------------------------

    def _apply_edit(self, message: Message, call: Call) -> None:
        body = call.body or {}
        if "content" in body:
            message.content = body["content"] or ""
        if "attachments" in body:
            # Discord keeps only the listed attachments; new ones arrive as files[n].
            message.files = list(call.files.values())
        message.edits += 1

    def _payload(self, message: Message) -> dict[str, Any]:
        return {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": {**FakeUser(BOT_ID, "lipsync-bot").payload(), "bot": True},
            "content": message.content,
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [
                {
                    "id": str(self._snowflake()),
                    "filename": name,
                    "size": len(data),
                    "url": f"{self.base}/sent/{name}",
                    "proxy_url": f"{self.base}/sent/{name}",
                }
                for name, data in message.files
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
