"""Keep the bots' secrets out of every log line, whatever the encoding they are printed in.

Bot tokens travel inside URLs (`/bot<token>/getFile`, `/file/bot<token>/...`), and the
libraries that carry them log those URLs: httpx at INFO for every request, python-telegram-
bot and discord.py at DEBUG, and any of them inside an exception's message. A URL is
percent-encoded by the time it is logged (Telegram's `123:ABC` arrives as `123%3AABC`), a
JSON body escapes characters its own way, and a header carries base64. Looking for the raw
token alone is therefore not enough: `Redactor` matches each secret in every encoding a log
line is likely to hold (see `secret_regex`).

Where to filter is the other half. A filter on a logger sees only records created on that
very logger, never those propagated from its children (`telegram.ext.Updater` is not
`telegram`); a filter on a handler misses the handlers added later (uvicorn's, pytest's)
and the records logged elsewhere. `install` therefore wraps the process's log record
factory: every record, from any logger, is scrubbed when it is made, before any filter or
handler sees it. It covers the message and its arguments, the exception text and the stack
text; only attributes passed with `extra=` are set after the factory runs and are not
looked at (nothing in the bots or their libraries passes secrets that way).
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

REPLACEMENT = "<redacted>"
# Shorter "secrets" would match ordinary words; no real token is this short.
MIN_SECRET_LENGTH = 6
# base64 runs shorter than this could occur in ordinary text by chance.
_MIN_BASE64_RUN = 12

# Discord's interaction and webhook tokens are secrets of their own (for 15 minutes they let
# anyone answer as the bot), minted per interaction, so they are found by where they appear:
# in the callback and webhook URLs discord.py logs at DEBUG, and as the "token" of the
# INTERACTION_CREATE payloads its gateway logs at DEBUG. Group `secret` is what is replaced.
DISCORD_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"(?:interactions|webhooks)(?:/|%2[fF])+\d+(?:/|%2[fF])+(?P<secret>[^/?#&\s'\"%\\]+)"
    ),
    re.compile(r"""\\*["']token\\*["']\s*:\s*\\*["'](?P<secret>[^"'\\\s]+)"""),
)


def _hex(value: int, width: int = 0) -> str:
    """A regex for `value` in hex, either case, zero-padded to `width` (more zeros allowed)."""
    digits = f"{value:0{width}x}"
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in digits)


def _char_regex(char: str) -> str:
    """Every way a log line may spell one character of a secret."""
    data = char.encode()
    code = ord(char)
    ways = [
        r"\\*" + re.escape(char),  # itself, maybe backslash-escaped (JSON's \/, a shell's \:)
        "".join(f"%(?:25)*{_hex(b, 2)}" for b in data),  # percent-encoded, even twice
        "".join(rf"\\+x{_hex(b, 2)}" for b in data),  # a Python bytes repr
        rf"\\+u{{?0*{_hex(code)}}}?",  # JSON, JavaScript, Python str escapes: \u003a, \u{3a}
        rf"\\+U0*{_hex(code)}",
        rf"&#0*{code};",  # HTML and XML character references
        rf"&#[xX]0*{_hex(code)};",
    ]
    if code < 0x100:
        ways.append(rf"\\+x{_hex(code, 2)}")
    if char == " ":
        ways.append(r"\+")  # form encoding
    return "(?:" + "|".join(ways) + ")"


def _base64_runs(secret: bytes) -> set[str]:
    """The base64 characters that encode `secret` wherever it sits in a longer value.

    Base64 works on groups of three bytes, so the secret's encoding depends on its offset in
    the encoded value (`bot<token>` shifts it by three, which is the same as none): for each
    of the three offsets, the groups made of secret bytes only encode the same way whatever
    surrounds them. Both alphabets, standard and URL-safe, are included.
    """
    runs: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode()
        run = encoded[4 if offset else 0 : 4 * ((offset + len(secret)) // 3)]
        if len(run) >= _MIN_BASE64_RUN:
            runs.add(run)
            runs.add(run.replace("+", "-").replace("/", "_"))
    return runs


def token_secrets(token: str) -> tuple[str, ...]:
    """What to hide of a bot token: the token, and its secret part on its own.

    A Telegram token is `<bot id>:<secret>` and a Discord token `<id>.<time>.<hmac>`; the
    parts before the last separator are public, but the last part alone is enough to be
    worth hiding wherever it shows up without the rest (a mangled separator, a split).
    """
    if len(token) < MIN_SECRET_LENGTH:
        return ()
    tail = re.split(r"[:.]", token)[-1]
    return (token, tail) if tail != token and len(tail) >= MIN_SECRET_LENGTH else (token,)


def secret_regex(secret: str) -> str:
    """A regex matching `secret` raw or encoded: percent-encoded (any part of it, hex in
    either case, even encoded twice, `+` for spaces), JSON / JavaScript / Python escaped,
    HTML character references, hex, and base64 in either alphabet at any offset."""
    data = secret.encode()
    ways = ["".join(_char_regex(c) for c in secret)]
    ways.append("".join(_hex(b, 2) for b in data))
    ways.extend(re.escape(run) for run in sorted(_base64_runs(data), key=len, reverse=True))
    return "|".join(f"(?:{way})" for way in ways)


class Redactor(logging.Filter):
    """Replaces secrets in log records, in any encoding (see `secret_regex`).

    `secrets` are known values (a bot token); `patterns` find secrets by context, each with a
    group named `secret` that is replaced (a Discord interaction token in a URL). Use it as a
    handler filter, or process-wide with `install`, which is what the bots do.
    """

    def __init__(
        self,
        secrets: Iterable[str] = (),
        replacement: str = REPLACEMENT,
        *,
        patterns: Iterable[re.Pattern[str]] = (),
    ) -> None:
        super().__init__()
        known = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._secrets = re.compile("|".join(secret_regex(s) for s in known)) if known else None
        self._patterns = tuple(patterns)
        self.replacement = replacement

    def redact(self, text: str) -> str:
        """`text` with every secret replaced."""
        if self._secrets is not None:
            text = self._secrets.sub(self.replacement, text)
        for pattern in self._patterns:
            text = pattern.sub(self._replace_secret_group, text)
        return text

    def _replace_secret_group(self, match: re.Match[str]) -> str:
        start, end = match.span("secret")
        whole = match.group(0)
        return whole[: start - match.start()] + self.replacement + whole[end - match.start() :]

    def filter(self, record: logging.LogRecord) -> bool:
        scrub(record, self.redact)
        return True


def scrub(record: logging.LogRecord, redact: Callable[[str], str]) -> None:
    """Redact a record in place: its message (with its arguments), exception and stack text.

    A message with arguments, or holding a secret, is replaced by its formatted, redacted
    text (arguments dropped), so no formatter or handler can format the raw arguments
    again, nor later, once changed, unchecked. An exception whose formatted traceback holds
    a secret is replaced by that redacted text (`exc_text`, which `logging.Formatter` prints
    as is) and `exc_info` is dropped for the same reason.
    """
    try:
        message = record.getMessage()
    except Exception:  # the handler will report the bad format, printing msg and args raw
        record.msg = redact(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(a, redact) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_value(v, redact) for k, v in record.args.items()}
    else:
        clean = redact(message)
        # Arguments with or without a secret now are dropped all the same: they are objects
        # the caller may still change after the call (python-telegram-bot adds the token to
        # the `getFile` result it has just logged), and a handler that formats later (a
        # buffer, pytest's capture) would print them as they are then, unchecked.
        if clean != message or record.args:
            record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        text = record.exc_text or logging.Formatter().formatException(record.exc_info)
        clean = redact(text)
        if clean != text:
            record.exc_text, record.exc_info = clean, None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _redact_value(value: Any, redact: Callable[[str], str]) -> Any:
    text = str(value)
    clean = redact(text)
    return value if clean == text else clean


# -- process-wide installation ----------------------------------------------------------

_lock = threading.Lock()
_active: tuple[Redactor, ...] = ()
_previous_factory: Callable[..., logging.LogRecord] | None = None


def install(redactor: Redactor) -> None:
    """Scrub every log record made from now on with `redactor` (until `uninstall`).

    Several redactors may be installed at once (`lipsync serve` runs both bots); the record
    factory is wrapped once, and unwrapped when the last one goes unless another factory was
    installed on top of ours meanwhile (ours then stays, doing nothing).
    """
    global _active, _previous_factory
    with _lock:
        _active = (*_active, redactor)
        if _previous_factory is None:
            _previous_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_make_record)


def uninstall(redactor: Redactor) -> None:
    """Stop scrubbing with `redactor` (a redactor that is not installed is ignored)."""
    global _active, _previous_factory
    with _lock:
        if redactor not in _active:
            return
        index = _active.index(redactor)
        _active = _active[:index] + _active[index + 1 :]
        if not _active and logging.getLogRecordFactory() is _make_record:
            assert _previous_factory is not None
            logging.setLogRecordFactory(_previous_factory)
            _previous_factory = None


def installed() -> tuple[Redactor, ...]:
    """The redactors scrubbing records now."""
    return _active


def _redact_all(text: str) -> str:
    for redactor in _active:
        text = redactor.redact(text)
    return text


def _make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _previous_factory is not None
    record = _previous_factory(*args, **kwargs)
    if _active:
        scrub(record, _redact_all)
    return record
