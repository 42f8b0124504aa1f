"""A local fake of the Telegram Bot API, for driving a real python-telegram-bot Application.

It is an HTTP server on loopback (Starlette under uvicorn, in a task of the test's event
loop) that speaks just enough of the Bot API for a polling bot: `getMe`, `getUpdates` (the
updates a test scripted, then empty answers after a short long-poll), `getFile` and file
downloads under `/file/bot<token>/<path>`, and every sending method. Every call is recorded
with its form parameters and uploaded files, so a test can read what the bot said, tap its
buttons (`FakeUser.tap`) and open the MP4 it uploaded. Like the real API it refuses
`getFile` for files over 20 MB, and it keeps each sent message's current text and buttons
so edits are visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "123456:TEST-fake-token"
BOT_ID = 123456
CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024
MAX_LONG_POLL_SECONDS = 0.5


@dataclass
class Call:
    """One Bot API request the bot made, as the server saw it."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    result: Any = None
    at: float = field(default_factory=time.time)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def message_id(self) -> int | None:
        """The message this call made (send*) or changed (edit*)."""
        if "message_id" in self.params:
            return int(self.params["message_id"])
        return self.result.get("message_id") if isinstance(self.result, dict) else None

    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback data) of every inline button the call attached."""
        markup = self.params.get("reply_markup") or {}
        return [
            (button["text"], button.get("callback_data", ""))
            for row in markup.get("inline_keyboard", [])
            for button in row
        ]

    def button(self, prefix: str) -> str:
        """The callback data of the one button whose data starts with `prefix`."""
        matches = [data for _, data in self.buttons() if data.startswith(prefix)]
        assert len(matches) == 1, f"{prefix!r} in {self.buttons()}"
        return matches[0]


@dataclass
class _File:
    content: bytes
    size: int
    path: str


class FakeBotApi:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.bot_user = {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Lipsync",
            "username": "lipsync_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._files: dict[str, _File] = {}
        self._files_by_path: dict[str, _File] = {}
        self.messages: dict[int, dict[str, Any]] = {}  # what each bot message shows now
        self._new_update = asyncio.Event()
        self._new_call = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What goes in `telegram.base_url` (python-telegram-bot appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self, port: int = 0) -> None:
        """Serve on loopback, on `port` (0: any free one)."""
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._method, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
            ]
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- what a test scripts -------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for the bot's next getUpdates; returns it with its update_id."""
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        self._new_update.set()
        return update

    def add_file(self, content: bytes, *, size: int | None = None, suffix: str = "") -> dict:
        """Store a file the bot may fetch; `size` may claim more than `content` holds."""
        file_id = f"file-{uuid.uuid4().hex}"
        stored = _File(content, len(content) if size is None else size, "")
        stored.path = f"files/{file_id}{suffix}"
        self._files[file_id] = stored
        self._files_by_path[stored.path] = stored
        return {"file_id": file_id, "file_unique_id": file_id[-12:], "file_size": stored.size}

    def next_message_id(self) -> int:
        return next(self._message_ids)

    # -- what a test reads ---------------------------------------------------------------

    def mark(self) -> int:
        """A position in the call log; pass it as `since` to look only at later calls."""
        return len(self.calls)

    def calls_of(self, method: str, chat_id: int | None = None, since: int = 0) -> list[Call]:
        return [
            c
            for c in self.calls[since:]
            if c.method == method and (chat_id is None or c.chat_id == chat_id)
        ]

    async def wait_for(
        self, predicate: Callable[[Call], bool], *, since: int = 0, timeout: float = 60.0
    ) -> Call:
        """The first call from `since` on that matches, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        seen = since
        while True:
            for call in self.calls[seen:]:
                if predicate(call):
                    return call
            seen = len(self.calls)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = [(c.method, c.params) for c in self.calls[since:]][-15:]
                raise AssertionError(f"no matching Bot API call; calls since: {recent}")
            self._new_call.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_call.wait(), min(remaining, 0.5))

    async def reply_to(
        self, chat_id: int, *, since: int, methods: tuple[str, ...] = ("sendMessage",)
    ) -> Call:
        """The bot's next message (by default a sendMessage) to `chat_id` after `since`."""
        return await self.wait_for(
            lambda c: c.method in methods and c.chat_id == chat_id, since=since
        )

    # -- the HTTP side ---------------------------------------------------------------------

    async def _method(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401
            )
        method = request.path_params["method"]
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        async with request.form() as form:  # closes the spooled upload files afterwards
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    files[key] = await value.read()
                else:
                    params[key] = _decode(value)
        params.update({k: _decode(v) for k, v in request.query_params.items()})
        call = Call(method, params, files)
        try:
            call.result = await self._answer(method, params)
        except _ApiError as exc:
            call.result = {"error": exc.description}
            response: Response = JSONResponse(
                {"ok": False, "error_code": 400, "description": exc.description},
                status_code=400,
            )
        else:
            response = JSONResponse({"ok": True, "result": call.result})
        if method != "getUpdates":
            self.calls.append(call)
            self._new_call.set()
        return response

    async def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return self.bot_user
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "getFile":
            return self._get_file(str(params.get("file_id", "")))
        if method in ("sendMessage", "sendVideo", "sendInvoice"):
            return self._sent(method, params)
        if method == "editMessageText":
            return self._edited(params)
        return True  # sendChatAction, answerCallbackQuery, setMyCommands, deleteWebhook, ...

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._new_update.clear()
            wait = min(float(params.get("timeout") or 0), MAX_LONG_POLL_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), wait)
        return list(self._updates)

    def _get_file(self, file_id: str) -> dict[str, Any]:
        stored = self._files.get(file_id)
        if stored is None:
            raise _ApiError("Bad Request: invalid file_id")
        if stored.size > CLOUD_DOWNLOAD_LIMIT:
            raise _ApiError("Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": file_id[-12:],
            "file_size": stored.size,
            "file_path": stored.path,
        }

    async def _download(self, request: Request) -> Response:
        stored = self._files_by_path.get(request.path_params["path"])
        if request.path_params["token"] != self.token or stored is None:
            return Response(status_code=404)
        return Response(stored.content, media_type="application/octet-stream")

    def _sent(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": self.next_message_id(),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": self.bot_user,
        }
        if method == "sendMessage":
            message["text"] = params.get("text", "")
        elif method == "sendVideo":
            message["video"] = {
                "file_id": f"video-{uuid.uuid4().hex}",
                "file_unique_id": uuid.uuid4().hex[:12],
                "width": int(params.get("width") or 0),
                "height": int(params.get("height") or 0),
                "duration": int(params.get("duration") or 0),
            }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        self.messages[message["message_id"]] = message
        return message

    def _edited(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get(int(params["message_id"]))
        if message is None:
            raise _ApiError("Bad Request: message to edit not found")
        if message.get("text") == params.get("text") and message.get("reply_markup") == params.get(
            "reply_markup"
        ):
            raise _ApiError("Bad Request: message is not modified")
        message["text"] = params.get("text", "")
        message.pop("reply_markup", None)
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return message


class _ApiError(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def _decode(value: str) -> Any:
    """Form values are strings; python-telegram-bot JSON-encodes everything that is not."""
    if value[:1] in ("{", "["):
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(value)
    return value


class FakeUser:
    """A Telegram user chatting with the bot in a private chat: each method pushes an update."""

    def __init__(
        self, api: FakeBotApi, user_id: int, first_name: str, language_code: str | None = "en"
    ) -> None:
        self.api = api
        self.id = user_id
        self.user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            self.user["language_code"] = language_code

    def _message(self, **content: Any) -> dict[str, Any]:
        message = {
            "message_id": self.api.next_message_id(),
            "date": int(time.time()),
            "chat": {"id": self.id, "type": "private", "first_name": self.user["first_name"]},
            "from": self.user,
            **content,
        }
        return self.api.push({"message": message})

    def say(self, text: str) -> dict[str, Any]:
        """Send text; a leading /command is marked as one, as Telegram clients do."""
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._message(text=text, entities=entities) if entities else self._message(text=text)

    def send_photo(self, path: Path) -> dict[str, Any]:
        ref = self.api.add_file(path.read_bytes(), suffix=".jpg")
        return self._message(photo=[{**ref, "width": 640, "height": 480}])

    def send_voice(self, path: Path) -> dict[str, Any]:
        ref = self.api.add_file(path.read_bytes(), suffix=".oga")
        return self._message(voice={**ref, "duration": 2, "mime_type": "audio/ogg"})

    def send_video(self, path: Path, *, size: int | None = None) -> dict[str, Any]:
        ref = self.api.add_file(path.read_bytes(), size=size, suffix=".mp4")
        video = {**ref, "width": 640, "height": 480, "duration": 2, "mime_type": "video/mp4"}
        return self._message(video=video)

    def send_video_note(self, path: Path) -> dict[str, Any]:
        ref = self.api.add_file(path.read_bytes(), suffix=".mp4")
        return self._message(video_note={**ref, "length": 480, "duration": 2})

    def send_document(
        self, content: bytes, file_name: str, mime_type: str, *, size: int | None = None
    ) -> dict[str, Any]:
        ref = self.api.add_file(content, size=size)
        return self._message(document={**ref, "file_name": file_name, "mime_type": mime_type})

    def send_sticker(self) -> dict[str, Any]:
        ref = self.api.add_file(b"RIFF....WEBP", suffix=".webp")
        sticker = {
            **ref,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self._message(sticker=sticker)

    def tap(self, on: Call, data: str) -> dict[str, Any]:
        """Press the inline button with callback `data` on the bot message `on` made."""
        message_id = on.message_id
        assert message_id is not None and message_id in self.api.messages
        return self.api.push(
            {
                "callback_query": {
                    "id": uuid.uuid4().hex,
                    "from": self.user,
                    "chat_instance": f"chat-{self.id}",
                    "data": data,
                    "message": self.api.messages[message_id],
                }
            }
        )

    def pre_checkout(self, invoice: Call) -> dict[str, Any]:
        """Telegram asking the bot to approve paying `invoice` (a recorded sendInvoice)."""
        return self.api.push(
            {
                "pre_checkout_query": {
                    "id": uuid.uuid4().hex,
                    "from": self.user,
                    "currency": invoice.params["currency"],
                    "total_amount": sum(int(p["amount"]) for p in invoice.params["prices"]),
                    "invoice_payload": invoice.params["payload"],
                }
            }
        )

    def paid(self, invoice: Call, charge_id: str) -> dict[str, Any]:
        """The service message Telegram sends once the Stars were paid."""
        return self._message(
            successful_payment={
                "currency": invoice.params["currency"],
                "total_amount": sum(int(p["amount"]) for p in invoice.params["prices"]),
                "invoice_payload": invoice.params["payload"],
                "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": "",
            }
        )
