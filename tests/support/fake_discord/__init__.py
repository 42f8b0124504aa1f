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

The package: `model` holds Discord's numbers and the things the fake records or is told
about (`Call`, `Violation`, `Message`, `FakeUser`, `FakeChannel`, `FakeGuild`, `FakeFile`,
`Interaction`); `gateway` the websocket side and `rest_api` the HTTP side of `FakeDiscord`,
as the mixins `GatewayMixin` and `RestApiMixin`; `server` the class itself, with the state
they share, the server's lifecycle and the test-side helpers. Tests import from here;
the gateway opcodes and close codes, `CALLBACK_TYPES` and `FILE_PART` stay in `model`.
"""

from tests.support.fake_discord.gateway import GatewaySession
from tests.support.fake_discord.model import (
    ACK_WINDOW,
    API_PREFIX,
    APP_ID,
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    BOT_ID,
    BOT_USER,
    COMPONENT,
    DEFAULT_UPLOAD_LIMIT,
    EPHEMERAL,
    GATEWAY_VERSION,
    GUILDS_INTENT,
    HEARTBEAT_INTERVAL_MS,
    KNOWN_INTENTS,
    MANAGE_GUILD,
    MAX_CONTENT,
    MODAL_SUBMIT,
    PING,
    PRIVILEGED_INTENTS,
    TOKEN,
    TOKEN_LIFETIME,
    Call,
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeUser,
    Interaction,
    Message,
    Violation,
)
from tests.support.fake_discord.server import FakeDiscord

__all__ = [
    "ACK_WINDOW",
    "API_PREFIX",
    "APPLICATION_COMMAND",
    "APP_ID",
    "AUTOCOMPLETE",
    "BOT_ID",
    "BOT_USER",
    "COMPONENT",
    "DEFAULT_UPLOAD_LIMIT",
    "EPHEMERAL",
    "GATEWAY_VERSION",
    "GUILDS_INTENT",
    "HEARTBEAT_INTERVAL_MS",
    "KNOWN_INTENTS",
    "MANAGE_GUILD",
    "MAX_CONTENT",
    "MODAL_SUBMIT",
    "PING",
    "PRIVILEGED_INTENTS",
    "TOKEN",
    "TOKEN_LIFETIME",
    "Call",
    "FakeChannel",
    "FakeDiscord",
    "FakeFile",
    "FakeGuild",
    "FakeUser",
    "GatewaySession",
    "Interaction",
    "Message",
    "Violation",
]
