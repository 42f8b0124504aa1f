"""Bot tokens never reach a log line: raw, percent-encoded, in args, in tracebacks.

Real `logging` records go through the real redactor, the way the doors install it (the
record factory), and are printed by ordinary handlers; the Discord door is run against the
local fake of Discord to check that it installs (and removes) the redaction itself.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bots import redaction
from bots.discord.run import DiscordDoor
from bots.redaction import Redactor, token_secrets
from engine.service import Service
from tests.conftest import make_settings
from tests.support.fake_discord import FakeDiscord

TELEGRAM = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TELEGRAM_SECRET = TELEGRAM.split(":")[1]
DISCORD = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
DISCORD_SECRET = DISCORD.rsplit(".", 1)[1]


class Lines(logging.Handler):
    """Prints records as a plain StreamHandler would, and keeps the records."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != threading.get_ident():
            return  # another test's leftovers (aiosqlite's thread, say)
        self.records.append(record)
        self.lines.append(self.format(record))

    def of(self, *names: str) -> list[str]:
        """The lines of these loggers only."""
        return [line for line, r in zip(self.lines, self.records, strict=True) if r.name in names]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def decoded(text: str) -> str:
    """`text` with every level of percent-encoding undone."""
    while (plain := urllib.parse.unquote(text)) != text:
        text = plain
    return text


def assert_clean(text: str, secret: str) -> None:
    assert secret not in decoded(text)
    assert secret.lower() not in decoded(text).lower()


@pytest.fixture
def lines() -> Iterator[Lines]:
    """A handler on the root logger, added after the redactor (as `serve` may add its own)."""
    handler = Lines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
def telegram_redactor() -> Iterator[Redactor]:
    redactor = Redactor(token_secrets(TELEGRAM), "<telegram-token>")
    redaction.install(redactor)
    try:
        yield redactor
    finally:
        redaction.uninstall(redactor)


def every_char_encoded(text: str, case: str = "%{:02X}") -> str:
    return "".join(case.format(b) for b in text.encode())


TELEGRAM_FORMS = {
    "raw": TELEGRAM,
    "colon encoded, as python-telegram-bot downloads": urllib.parse.quote(TELEGRAM),
    "colon encoded, lower-case hex": TELEGRAM.replace(":", "%3a"),
    "every character encoded": every_char_encoded(TELEGRAM),
    "every character encoded, lower-case hex": every_char_encoded(TELEGRAM, "%{:02x}"),
    "some characters encoded": "".join(
        every_char_encoded(c) if i % 3 == 0 else c for i, c in enumerate(TELEGRAM)
    ),
    "encoded twice": urllib.parse.quote(urllib.parse.quote(TELEGRAM)),
    "separator mangled, secret raw": f"123456789%u003A{TELEGRAM_SECRET}",
}


@pytest.mark.parametrize("form", TELEGRAM_FORMS.values(), ids=TELEGRAM_FORMS.keys())
def test_a_download_url_loses_the_token_in_any_encoding(
    lines: Lines, telegram_redactor: Redactor, form: str
) -> None:
    url = f"https://api.telegram.org/file/bot{form}/photos/file_7.jpg"
    # As httpx logs it, and from loggers no filter was ever attached to.
    logging.getLogger("httpx").info(
        'HTTP Request: %s %s "%s %d %s"', "GET", url, "HTTP/1.1", 200, "OK"
    )
    logging.getLogger("telegram.ext.Application").debug(f"fetched {url}")
    mine = lines.of("httpx", "telegram.ext.Application")
    assert len(mine) == 2
    for line in mine:
        assert_clean(line, TELEGRAM_SECRET)
        assert "<telegram-token>/photos/file_7.jpg" in line
    assert mine[0].endswith('"HTTP/1.1 200 OK"')


def test_args_that_hold_the_token_are_cleared_even_when_the_message_hides_it(
    lines: Lines, telegram_redactor: Redactor
) -> None:
    log = logging.getLogger("lipsync.test")
    url = f"https://api.telegram.org/bot{urllib.parse.quote(TELEGRAM)}/getFile"
    log.warning("cut short: %.10s", url)  # the message shows no token, the argument does
    log.warning("%(what)s", {"what": "a mapping", "unused": TELEGRAM})
    log.warning("plain words")
    first, second, third = [r for r in lines.records if r.name == "lipsync.test"]
    assert lines.of("lipsync.test")[:2] == [
        "WARNING lipsync.test: cut short: https://ap",
        "WARNING lipsync.test: a mapping",
    ]
    for record in (first, second):
        assert record.args is None
        assert_clean(str(record.msg), TELEGRAM_SECRET)
    assert third.msg == "plain words" and not third.args


def test_an_argument_changed_after_the_call_cannot_bring_the_token_back(
    telegram_redactor: Redactor,
) -> None:
    # python-telegram-bot logs the `getFile` result, then puts the download URL (with the
    # token) into that very dict; a handler that formats later must not see the change.
    kept: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = kept.append  # type: ignore[method-assign]
    log = logging.getLogger("telegram.ext.ExtBot")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        result = {"file_path": "photos/file_7.jpg"}
        log.debug("Call to Bot API endpoint `getFile` finished with `%s`", result)
        result["file_path"] = f"https://api.telegram.org/file/bot{TELEGRAM}/photos/file_7.jpg"
    finally:
        log.removeHandler(handler)
        log.setLevel(logging.NOTSET)
    (record,) = kept
    assert record.getMessage().endswith("`{'file_path': 'photos/file_7.jpg'}`")


def test_tracebacks_lose_the_token_in_the_exception_and_its_cause(
    lines: Lines, telegram_redactor: Redactor
) -> None:
    log = logging.getLogger("lipsync.telegram")
    url = f"https://api.telegram.org/file/bot{urllib.parse.quote(TELEGRAM)}/videos/a.mp4"
    try:
        try:
            raise ConnectionError(f"token {TELEGRAM} refused")
        except ConnectionError as cause:
            raise RuntimeError(f"GET {url} failed") from cause
    except RuntimeError as exc:
        log.exception("downloading failed")
        log.error("handling a Telegram update failed", exc_info=exc)
    mine = lines.of("lipsync.telegram")
    assert len(mine) == 2
    for line in mine:
        assert_clean(line, TELEGRAM_SECRET)
        assert "RuntimeError: GET https://api.telegram.org/file/bot<telegram-token>/videos" in line
        assert "ConnectionError: token <telegram-token> refused" in line
        assert "Traceback (most recent call last)" in line
    records = [r for r in lines.records if r.name == "lipsync.telegram"]
    assert all(record.exc_info is None and record.exc_text for record in records)


def test_the_redactor_works_as_a_plain_filter_and_leaves_after_uninstall(lines: Lines) -> None:
    log = logging.getLogger("lipsync.filtered")
    redactor = Redactor(token_secrets(TELEGRAM), "<telegram-token>")
    log.addFilter(redactor)
    try:
        log.info("url %s", urllib.parse.quote(TELEGRAM))
    finally:
        log.removeFilter(redactor)
    redaction.install(redactor)
    redaction.uninstall(redactor)
    logging.getLogger("lipsync.other").info("not a secret any more: %s", TELEGRAM)
    assert lines.of("lipsync.filtered") == ["INFO lipsync.filtered: url <telegram-token>"]
    (after,) = lines.of("lipsync.other")
    assert TELEGRAM in after  # nothing left behind once the door is gone


def test_short_or_empty_tokens_redact_nothing() -> None:
    assert token_secrets("") == ()
    assert Redactor(["short"]).redact("a short word") == "a short word"
    assert token_secrets(DISCORD) == (DISCORD, DISCORD_SECRET)


INTERACTION = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQ"


async def test_the_discord_door_redacts_its_token_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: Lines
) -> None:
    async with FakeDiscord(tmp_path, token=DISCORD) as fake:
        monkeypatch.setattr(Route, "BASE", fake.api_base)
        monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
        settings = make_settings(tmp_path / "data", discord={"token": DISCORD})
        service = await Service.open(settings)
        door = DiscordDoor(service)
        try:
            await door.start()
            await asyncio.wait_for(fake.wait_ready(), 30)
            http = logging.getLogger("discord.http")
            http.debug("headers %s", {"Authorization": f"Bot {DISCORD}"})
            http.debug("GET %s/x?token=%s", fake.api_base, urllib.parse.quote(DISCORD, safe=""))
            logging.getLogger("discord.gateway").debug("IDENTIFY %s", {"token": DISCORD})
            # An interaction's own token answers as the bot for 15 minutes: found by place.
            http.debug("POST %s/interactions/1234567890/%s/callback", fake.api_base, INTERACTION)
        finally:
            await asyncio.wait_for(door.stop(), 15)
            await service.close()
        logging.getLogger("discord.http").debug("after stop: %s", DISCORD)
    assert fake.identified and fake.identified[0]["token"] == DISCORD  # it really logged in
    stopped = next(i for i, line in enumerate(lines.lines) if "after stop:" in line)
    during, after = lines.lines[:stopped], lines.lines[stopped]
    for line in during:
        assert_clean(line, DISCORD_SECRET)
    mine = [line for line in during if "<discord-token>" in line]
    assert mine == [
        "DEBUG discord.http: headers {'Authorization': 'Bot <discord-token>'}",
        f"DEBUG discord.http: GET {fake.api_base}/x?token=<discord-token>",
        "DEBUG discord.gateway: IDENTIFY {'token': '<discord-token>'}",
        f"DEBUG discord.http: POST {fake.api_base}/interactions/1234567890/<discord-token>"
        "/callback",
    ]
    assert not any(INTERACTION in line for line in during)
    assert DISCORD in after  # the door took its redactor away when it stopped
