from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import Settings, load_settings
from engine.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_config_toml_states_exactly_the_built_in_defaults() -> None:
    assert load_settings(REPO / "config.toml", env={}) == Settings()


def test_environment_overrides_top_level_and_section_keys() -> None:
    s = load_settings(
        REPO / "config.toml",
        env={
            "LIPSYNC_PORT": "9100",
            "LIPSYNC_DATA_DIR": "/tmp/x",
            "LIPSYNC_TELEGRAM_TOKEN": "123:abc",
            "LIPSYNC_TELEGRAM_ADMINS": "1,2",
            "LIPSYNC_WEBHOOKS_ALLOW_HTTP": "true",
            "LIPSYNC_PRICING_CREDITS_PER_SECOND": '{"480p": 1, "720p": 2, "1080p": 3}',
        },
    )
    assert s.port == 9100
    assert s.data_dir == "/tmp/x"
    assert s.telegram.token == "123:abc"
    assert s.telegram.admins == [1, 2]
    assert s.webhooks.allow_http is True
    assert s.pricing.credits_per_second["720p"] == 2


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("prot = 8000", "unknown config key 'prot'"),
        ("[workers]\ncuont = 2", "unknown config key 'workers.cuont'"),
        ('port = "eighty"', "config key 'port' must be a whole number"),
        ("[limits]\nallow_private_urls = 1", "'limits.allow_private_urls' must be true or false"),
        ("port = 0", "port must be between 1 and 65535"),
        ('[pricing]\ncredits_per_second = { "480p" = 2 }', "must price 480p, 720p, 1080p"),
        ("[render]\ndefault_fps = 120", "render.default_fps"),
        ("port = [", "not valid TOML"),
    ],
)
def test_bad_config_fails_at_start_naming_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_settings(path, env={})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"'port \(from LIPSYNC_PORT\)' must be a number"):
        load_settings(None, env={"LIPSYNC_PORT": "x"})


def test_a_misspelt_environment_variable_stops_the_start_naming_it() -> None:
    with pytest.raises(ConfigError, match="unknown environment variable LIPSYNC_WORKER_COUNT"):
        load_settings(path=None, env={"LIPSYNC_WORKER_COUNT": "2", "LIPSYNC_PORT": "9000"})
    with pytest.raises(ConfigError, match="variables LIPSYNC_PROT, LIPSYNC_TELEGRAM_TOKN"):
        load_settings(path=None, env={"LIPSYNC_TELEGRAM_TOKN": "x", "LIPSYNC_PROT": "1"})
    # Settings, the config path and the test tools' media folder are all known names.
    settings = load_settings(
        path=None,
        env={"LIPSYNC_WORKERS_COUNT": "2", "LIPSYNC_REAL_MEDIA": "/tmp", "OTHER_THING": "x"},
    )
    assert settings.workers.count == 2
