"""Settings: typed defaults, overridden by `config.toml`, overridden by `LIPSYNC_*` variables.

The dataclasses below are the single source of the defaults; `config.toml` at the repository
root repeats them with comments for operators (a unit test keeps the two in step). A key
that is unknown or of the wrong type stops the service at start with a message naming the
key, because a typo that is silently ignored is worse than a refusal to start.

Environment variables: a top-level key `port` is `LIPSYNC_PORT`; a key in a section,
`telegram.token`, is `LIPSYNC_TELEGRAM_TOKEN`. Lists and tables take JSON
(`LIPSYNC_PRICING_CREDITS_PER_SECOND='{"480p": 2}'`), lists also a comma-separated string.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.vocabulary import Resolution

ENV_PREFIX = "LIPSYNC_"
# Variables with the prefix that are not settings: the config file's path, where the
# test tools keep the real media they fetch, and whether render processes keep the native
# libraries' log lines (`lipsync --verbose`, engine/native_logs.py).
OTHER_ENV_VARS = ("LIPSYNC_CONFIG", "LIPSYNC_REAL_MEDIA", "LIPSYNC_NATIVE_LOGS")


@dataclass
class PricingSettings:
    min_seconds: int = 5
    credits_per_second: dict[str, int] = field(
        default_factory=lambda: {"480p": 2, "720p": 4, "1080p": 8}
    )
    # Seed 004 quotes "5 credits per minute of video"; we bill every dialect the same
    # way (seconds x rate) so one account's credits mean the same everywhere.


@dataclass
class WorkerSettings:
    count: int = 0  # 0 = auto: one less than the CPU count, at least one
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    max_attempts: int = 3
    poll_seconds: float = 0.25
    plugins: list[str] = field(default_factory=list)
    # A render whose progress has not moved for this long is killed and retried like a
    # crash (a stopped or deadlocked process would otherwise hold its job and credits).
    stall_seconds: float = 120.0
    # Wall clock a render may take: stall_seconds plus this much per second of output.
    wall_clock_per_output_second: float = 30.0
    # Where renders run (engine/worker/executor.py): "local" spawned processes on this
    # machine, or "ray" actors on a Ray cluster (the `ray` extra). SQLite stays here.
    executor: str = "local"
    ray_address: str = ""  # "": start a local Ray runtime; "auto" or "host:port": join one
    ray_num_cpus: float = 1.0  # CPUs each render actor holds (fractions allowed)
    ray_num_gpus: float = 0.0  # GPUs each render actor holds (fractions allowed)


@dataclass
class LimitSettings:
    max_media_seconds: float = 600.0
    max_input_bytes: int = 500 * 1024 * 1024
    max_upload_bytes: int = 200 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    max_data_uri_bytes: int = 2 * 1024 * 1024
    fetch_timeout_seconds: float = 60.0
    allow_private_urls: bool = False

    @property
    def json_body_bytes(self) -> int:
        """The largest JSON body a request may carry: four inline data: URIs (image, two
        voices and a mask; base64 grows them by a third) and room for the rest."""
        inline = self.max_data_uri_bytes * 4 // 3 + 1024
        return 4 * inline + 1024 * 1024


@dataclass
class RenderSettings:
    default_resolution: str = "480p"
    default_fps: int = 25
    crf: int = 23
    dub_crf: int = 18  # dubbing re-encodes the user's own footage: stay closer to it
    preset: str = "veryfast"
    # Which renderer draws the mouths of `lipsync-video` and `lipsync-image` (duets stay
    # classic): the built-in classical one, or a neural model from the operator's own
    # upstream weights (engine/lipsync/neural). Checked, and the weights loaded, at start.
    backend: str = "classic"  # "classic" | "wav2lip" | "musetalk"
    device: str = "auto"  # "auto" (cuda when torch sees one, else cpu) | "cpu" | "cuda"
    wav2lip_checkpoint: str = ""  # wav2lip.pth or wav2lip_gan.pth as upstream ships them
    musetalk_dir: str = ""  # MuseTalk's `models` folder (musetalkV15/, sd-vae/, whisper/)


RENDER_BACKENDS = ("classic", "wav2lip", "musetalk")
RENDER_DEVICES = ("auto", "cpu", "cuda")


@dataclass
class AccountSettings:
    admin_starter_credits: int = 1000
    user_starter_credits: int = 50


@dataclass
class WebhookSettings:
    allow_http: bool = False
    timeout_seconds: float = 10.0
    max_attempts: int = 12
    first_retry_seconds: float = 30.0
    # Networks (CIDRs) whose private addresses webhooks may still be sent to, e.g. a LAN
    # receiver; unlike limits.allow_private_urls this does not open input fetching.
    allow_private_networks: list[str] = field(default_factory=list)

    @property
    def private_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(n) for n in self.allow_private_networks]


@dataclass
class TtsSettings:
    max_chars: int = 3000  # longest text one voice may speak
    credits_per_second: int = 1  # POST /api/v1/tts/generate alone (a video is priced as video)
    min_seconds: int = 1


@dataclass
class PortalSettings:
    signup: str = "open"  # "open": anyone may sign up; "closed": `lipsync users create` only
    session_days: float = 30.0
    api_starter_credits: int = 0  # API credits of a new sign-up (user credits: accounts.)


@dataclass
class McpSettings:
    stdio_account: str = "local"
    stdio_starter_credits: int = 1000
    allowed_dirs: list[str] = field(default_factory=list)


@dataclass
class TelegramSettings:
    token: str = ""
    base_url: str = ""
    admins: list[int] = field(default_factory=list)
    # Credit packs sold for Telegram Stars: stars -> credits.
    star_packs: dict[str, int] = field(default_factory=lambda: {"50": 100, "100": 220, "250": 600})


@dataclass
class DiscordSettings:
    token: str = ""
    admins: list[int] = field(default_factory=list)


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = "./data"
    public_base_url: str = ""  # empty = http://{host}:{port}
    retention_days: float = 7.0
    log_level: str = "info"
    pricing: PricingSettings = field(default_factory=PricingSettings)
    workers: WorkerSettings = field(default_factory=WorkerSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    render: RenderSettings = field(default_factory=RenderSettings)
    accounts: AccountSettings = field(default_factory=AccountSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    mcp: McpSettings = field(default_factory=McpSettings)
    portal: PortalSettings = field(default_factory=PortalSettings)
    tts: TtsSettings = field(default_factory=TtsSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def database_path(self) -> Path:
        return self.data_path / "lipsync.sqlite3"

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def worker_count(self) -> int:
        if self.workers.count > 0:
            return self.workers.count
        return max(1, (os.cpu_count() or 2) - 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_settings(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings: defaults, then the TOML file, then the environment, then overrides.

    `path` None means `$LIPSYNC_CONFIG`, else `./config.toml` when it exists.
    """
    env = os.environ if env is None else env
    settings = Settings()
    if path is None:
        path = env.get("LIPSYNC_CONFIG") or (
            "config.toml" if Path("config.toml").is_file() else None
        )
    if path is not None:
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        _apply_mapping(settings, data, prefix="")
    _apply_env(settings, env)
    if overrides:
        _apply_mapping(settings, dict(overrides), prefix="")
    _validate(settings)
    return settings


def settings_from_dict(data: Mapping[str, Any]) -> Settings:
    """Rebuild settings in a spawned worker process from `Settings.to_dict()`."""
    settings = Settings()
    _apply_mapping(settings, dict(data), prefix="")
    return settings


def _apply_mapping(target: Any, data: Mapping[str, Any], prefix: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(target)}
    hints = typing.get_type_hints(type(target))
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(f"unknown config key '{name}'")
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                raise ConfigError(f"config key '{name}' must be a table")
            _apply_mapping(current, value, prefix=f"{name}.")
        else:
            setattr(target, key, _coerce(value, hints[key], name))


def _apply_env(settings: Settings, env: Mapping[str, str]) -> None:
    """Apply `LIPSYNC_<KEY>` variables; a misspelt one stops the start instead of being
    silently ignored (an operator who set LIPSYNC_WORKER_COUNT expects it to count)."""
    known = set(OTHER_ENV_VARS)
    for key, target, hint, name in _leaf_keys(settings, ""):
        var = ENV_PREFIX + name.replace(".", "_").upper()
        known.add(var)
        if var in env:
            setattr(target, key, _coerce_text(env[var], hint, f"{name} (from {var})"))
    unknown = sorted(v for v in env if v.startswith(ENV_PREFIX) and v not in known)
    if unknown:
        raise ConfigError(
            f"unknown environment variable{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}: no such setting (config.toml lists them all)"
        )


def _leaf_keys(target: Any, prefix: str) -> list[tuple[str, Any, Any, str]]:
    hints = typing.get_type_hints(type(target))
    out: list[tuple[str, Any, Any, str]] = []
    for f in dataclasses.fields(target):
        value = getattr(target, f.name)
        if dataclasses.is_dataclass(value):
            out.extend(_leaf_keys(value, f"{prefix}{f.name}."))
        else:
            out.append((f.name, target, hints[f.name], f"{prefix}{f.name}"))
    return out


def _coerce_text(text: str, hint: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is str:
        return text
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"config key '{name}' must be true or false, got {text!r}")
    if origin is list and not text.strip().startswith("["):
        items = [part.strip() for part in text.split(",") if part.strip()]
        return _coerce(
            items if hint != list[int] else [_num(i, int, name) for i in items], hint, name
        )
    if origin in (list, dict):
        try:
            return _coerce(json.loads(text), hint, name)
        except json.JSONDecodeError:
            raise ConfigError(f"config key '{name}' must be JSON, got {text!r}") from None
    if hint in (int, float):
        return _num(text, hint, name)
    raise ConfigError(f"config key '{name}' has an unsupported type")  # pragma: no cover


def _num(text: Any, kind: type, name: str) -> Any:
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise ConfigError(f"config key '{name}' must be a number, got {text!r}") from None


def _coerce(value: Any, hint: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):  # pragma: no cover - no optional keys yet
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
        origin = typing.get_origin(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key '{name}' must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"config key '{name}' must be a whole number, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"config key '{name}' must be a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"config key '{name}' must be a string, got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"config key '{name}' must be a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [_coerce(v, item, f"{name}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"config key '{name}' must be a table, got {value!r}")
        _, item = typing.get_args(hint)
        return {str(k): _coerce(v, item, f"{name}.{k}") for k, v in value.items()}
    raise ConfigError(f"config key '{name}' has an unsupported type")  # pragma: no cover


def _validate(s: Settings) -> None:
    checks: list[tuple[bool, str]] = [
        (1 <= s.port <= 65535, "port must be between 1 and 65535"),
        (s.retention_days > 0, "retention_days must be positive"),
        (s.portal.signup in ("open", "closed"), 'portal.signup must be "open" or "closed"'),
        (s.portal.session_days > 0, "portal.session_days must be positive"),
        (s.tts.max_chars > 0, "tts.max_chars must be positive"),
        (s.tts.credits_per_second >= 0, "tts.credits_per_second must not be negative"),
        (s.tts.min_seconds >= 0, "tts.min_seconds must not be negative"),
        (s.portal.api_starter_credits >= 0, "portal.api_starter_credits must not be negative"),
        (s.pricing.min_seconds >= 0, "pricing.min_seconds must not be negative"),
        (
            all(r in s.pricing.credits_per_second for r in Resolution),
            f"pricing.credits_per_second must price {', '.join(Resolution)}",
        ),
        (
            all(v >= 0 for v in s.pricing.credits_per_second.values()),
            "pricing.credits_per_second values must not be negative",
        ),
        (s.workers.count >= 0, "workers.count must be 0 (auto) or more"),
        (s.workers.lease_seconds > 0, "workers.lease_seconds must be positive"),
        (
            0 < s.workers.heartbeat_seconds < s.workers.lease_seconds,
            "workers.heartbeat_seconds must be positive and below workers.lease_seconds",
        ),
        (s.workers.max_attempts >= 1, "workers.max_attempts must be at least 1"),
        (s.workers.stall_seconds > 0, "workers.stall_seconds must be positive"),
        (
            s.workers.wall_clock_per_output_second > 0,
            "workers.wall_clock_per_output_second must be positive",
        ),
        (s.workers.executor in ("local", "ray"), 'workers.executor must be "local" or "ray"'),
        (s.workers.ray_num_cpus >= 0, "workers.ray_num_cpus must not be negative"),
        (s.workers.ray_num_gpus >= 0, "workers.ray_num_gpus must not be negative"),
        (
            s.render.default_resolution in tuple(Resolution),
            "render.default_resolution is not known",
        ),
        (24 <= s.render.default_fps <= 60, "render.default_fps must be between 24 and 60"),
        (0 <= s.render.crf <= 51, "render.crf must be between 0 and 51"),
        (0 <= s.render.dub_crf <= 51, "render.dub_crf must be between 0 and 51"),
        (
            s.render.backend in RENDER_BACKENDS,
            f"render.backend must be one of {', '.join(RENDER_BACKENDS)}"
            f" (got {s.render.backend!r})",
        ),
        (
            s.render.device in RENDER_DEVICES,
            f"render.device must be one of {', '.join(RENDER_DEVICES)} (got {s.render.device!r})",
        ),
        (
            s.render.backend != "wav2lip" or bool(s.render.wav2lip_checkpoint),
            'render.backend = "wav2lip" needs render.wav2lip_checkpoint, the path of an'
            " upstream checkpoint (wav2lip.pth or wav2lip_gan.pth)",
        ),
        (
            s.render.backend != "musetalk" or bool(s.render.musetalk_dir),
            'render.backend = "musetalk" needs render.musetalk_dir, the folder that holds'
            " musetalkV15/, sd-vae/ and whisper/",
        ),
        (s.limits.max_media_seconds > 0, "limits.max_media_seconds must be positive"),
        (s.log_level in ("debug", "info", "warning", "error"), "log_level is not known"),
        (s.accounts.admin_starter_credits >= 0, "accounts.admin_starter_credits < 0"),
        (s.accounts.user_starter_credits >= 0, "accounts.user_starter_credits < 0"),
        (
            all(k.isdigit() and int(k) > 0 and v > 0 for k, v in s.telegram.star_packs.items()),
            "telegram.star_packs maps a positive number of stars to positive credits",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"bad config: {message}")
    for network in s.webhooks.allow_private_networks:
        try:
            ipaddress.ip_network(network)
        except ValueError as exc:
            raise ConfigError(
                f"bad config: webhooks.allow_private_networks: {network!r} is not a network"
                f" in CIDR form such as 192.168.1.0/24 ({exc})"
            ) from None
