"""The REST half of the fake Discord: the HTTP API the bot's discord.py client calls.

`RestApiMixin` holds `FakeDiscord`'s route handlers (log-in, command sync, interaction
callbacks, the original response, follow-ups, channel posts, attachment downloads), the
rules they enforce with Discord's own refusals (token, 3-second acknowledgement, callback
types, multipart attachments, token lifetime, sizes), and the message payloads they answer
with. The state they work on belongs to `FakeDiscord`, which also routes requests here.
"""

from __future__ import annotations

import datetime
import json
import time
from typing import TYPE_CHECKING, Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from tests.support.fake_discord.model import (
    API_PREFIX,
    APP_ID,
    BOT_USER,
    CALLBACK_TYPES,
    DEFAULT_UPLOAD_LIMIT,
    FILE_PART,
    MAX_CONTENT,
    TOKEN_LIFETIME,
    Call,
    FakeUser,
    Interaction,
    Message,
    Violation,
)

if TYPE_CHECKING:
    import asyncio
    from pathlib import Path


class RestApiMixin:
    """`FakeDiscord`'s REST side; the state it names below is set up by `FakeDiscord`."""

    if TYPE_CHECKING:
        token: str
        ack_window: float
        calls: list[Call]
        violations: list[Violation]
        interactions: dict[str, Interaction]
        channel_messages: list[Message]
        synced_commands: list[dict[str, Any]]
        _files: dict[int, Path]
        _changed: asyncio.Event

        @property
        def base(self) -> str: ...

        def _snowflake(self) -> int: ...

    # -- the HTTP API ------------------------------------------------------------------

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
