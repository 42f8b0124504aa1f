"""The gateway half of the fake Discord: the websocket the bot's discord.py client opens.

`GatewayMixin` holds what `FakeDiscord` does on a gateway connection: HELLO, heartbeats,
IDENTIFY (token and intents checked, READY and GUILD_CREATE sent), RESUME (missed frames
replayed) and the close codes Discord uses when a client breaks a rule. The state it works
on (sessions, counters, `calls`, `violations`) belongs to `FakeDiscord`; `GatewaySession`
and the websocket wrapper `_Link` live here, as only the gateway needs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.support.fake_discord.model import (
    ALREADY_AUTHENTICATED,
    APP_ID,
    AUTHENTICATION_FAILED,
    BOT_USER,
    CLIENT_OPS_AFTER_IDENTIFY,
    DECODE_ERROR,
    DISALLOWED_INTENTS,
    DISPATCH,
    GATEWAY_VERSION,
    GUILDS_INTENT,
    HEARTBEAT,
    HEARTBEAT_ACK,
    HELLO,
    IDENTIFY,
    INVALID_INTENTS,
    INVALID_SEQ,
    INVALID_SESSION,
    INVALID_VERSION,
    KNOWN_INTENTS,
    NOT_AUTHENTICATED,
    PRIVILEGED_INTENTS,
    RESUME,
    UNKNOWN_OPCODE,
    Call,
    Violation,
)

if TYPE_CHECKING:
    from tests.support.fake_discord.model import FakeGuild


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


class GatewayMixin:
    """`FakeDiscord`'s gateway side; the state it names below is set up by `FakeDiscord`."""

    if TYPE_CHECKING:
        token: str
        guilds: tuple[FakeGuild, ...]
        privileged_intents: int
        heartbeat_interval_ms: int
        calls: list[Call]
        violations: list[Violation]
        identified: list[dict[str, Any]]
        heartbeats: int
        resumes: int
        closes: list[tuple[str, int | None]]
        _sessions: dict[str, GatewaySession]
        _session: GatewaySession | None
        _changed: asyncio.Event

        @property
        def resume_gateway_url(self) -> str: ...

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
