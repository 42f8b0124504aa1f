"""The operator's `lipsync` commands, run as `cli.main.main([...])` on a real SQLite file.

Each test writes a config file naming its own data directory; what the command prints is
read with capsys, and what it did is checked through the service on the same database.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from cli.main import main
from engine import jobs
from engine.config import Settings
from engine.job_request import JobRequest
from engine.service import Service
from tests.conftest import make_settings

T = TypeVar("T")


class Cli:
    """The command on one data directory; `run` returns (exit code, stdout, stderr)."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str], **config: Any):
        self.data = tmp_path / "data"
        self.config_path = tmp_path / "config.toml"
        lines = [f'data_dir = "{self.data}"']
        lines += [
            f"{k} = {v!r}" if isinstance(v, int) else f'{k} = "{v}"' for k, v in config.items()
        ]
        self.config_path.write_text("\n".join(lines) + "\n")
        self.settings: Settings = make_settings(self.data, **config)
        self.capsys = capsys

    def run(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(["--config", str(self.config_path), *argv])
        out, err = self.capsys.readouterr()
        return code, out, err

    def with_service(self, work: Callable[[Service], Coroutine[Any, Any, T]]) -> T:
        async def go() -> T:
            service = await Service.open(self.settings)
            try:
                return await work(service)
            finally:
                await service.close()

        return asyncio.run(go())


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path, capsys)


def image_request(picture: Path, tone: Path, **params: Any) -> JobRequest:
    return JobRequest(
        model="lipsync-image", inputs={"image": str(picture), "audio": str(tone)}, params=params
    )


# -- keys --------------------------------------------------------------------------------


def test_keys_create_shows_the_webhook_secret_before_the_key_itself(cli: Cli) -> None:
    code, out, _ = cli.run("keys", "create", "--name", "shop", "--credits", "30")
    assert code == 0
    lines = out.strip().splitlines()
    key = lines[-1]  # still the last line, on its own
    assert key.startswith("sk_")
    key_id = key.split("_")[1]
    (secret_line,) = [line for line in lines if line.startswith("webhook secret: ")]
    secret = secret_line.split()[2]
    assert secret.startswith("whsec_")
    assert secret == cli.with_service(lambda s: _async(s.webhook_secret(key_id)))
    assert cli.run("keys", "secret", key_id) == (0, secret + "\n", "")


def test_keys_secret_shows_the_admin_keys_secret_too(cli: Cli) -> None:
    admin = cli.with_service(lambda s: s.ensure_admin_key())
    assert admin is not None and admin.key.admin
    code, out, _ = cli.run("keys", "secret", admin.key.id)
    assert code == 0
    assert out.strip() == cli.with_service(lambda s: _async(s.webhook_secret(admin.key.id)))
    code, _, err = cli.run("keys", "secret", "nosuchkey")
    assert code == 1 and "no API key nosuchkey" in err


# -- credits -----------------------------------------------------------------------------


@pytest.mark.parametrize("owner", ["telegram:123456789", "discord:987654321"])
def test_credits_grant_makes_a_chat_users_account_as_the_bot_would(cli: Cli, owner: str) -> None:
    starter = cli.settings.accounts.user_starter_credits
    code, out, _ = cli.run("credits", "grant", owner, "100")
    assert code == 0
    assert f"made the account of {owner} with {starter} starter credits" in out
    assert out.strip().endswith(f"({owner}) now has {starter + 100} credits")
    platform, user_id = owner.split(":")
    # The bot, on the user's first message, finds that account: no second one is made.
    account = cli.with_service(lambda s: s.user_account(platform, int(user_id)))
    assert account.balance == starter + 100
    code, out, _ = cli.run("credits", "grant", owner, "5")  # exists now: just granted
    assert code == 0 and "made the account" not in out
    assert out.strip().endswith(f"now has {starter + 105} credits")


@pytest.mark.parametrize("ref", ["slack:1", "telegram:alice", "acc_nothing", "telegram:"])
def test_credits_grant_to_an_unknown_form_fails_clearly(cli: Cli, ref: str) -> None:
    code, out, err = cli.run("credits", "grant", ref, "10")
    assert code == 1 and out == ""
    assert f"no account, API key or owner named {ref}" in err
    assert "telegram:<user id> or discord:<user id>" in err


def test_credits_ledger_lists_entries_newest_first_up_to_the_limit(cli: Cli) -> None:
    cli.run("credits", "grant", "telegram:7", "10", "--note", "first")
    cli.run("credits", "grant", "telegram:7", "20", "--note", "second")
    code, out, _ = cli.run("credits", "ledger", "telegram:7")
    lines = out.strip().splitlines()
    assert code == 0
    assert lines[0].split() == ["when", "kind", "amount", "balance", "job", "note"]
    assert [line.split()[-1] for line in lines[1:]] == ["second", "first", "credits"]
    assert "+20" in lines[1] and "80" in lines[1]
    code, out, _ = cli.run("credits", "ledger", "telegram:7", "--limit", "1")
    assert len(out.strip().splitlines()) == 2 and out.strip().endswith("second")
    # `balance` shows the same rows under its headline.
    code, out, _ = cli.run("credits", "balance", "telegram:7")
    assert out.splitlines()[1:] == cli.run("credits", "ledger", "telegram:7")[1].splitlines()


# -- jobs --------------------------------------------------------------------------------


def test_jobs_cancel_refunds_the_hold_as_the_api_does(cli: Cli, picture: Path, tone: Path) -> None:
    async def queued(service: Service) -> tuple[str, str]:
        account = (await service.create_api_key("k", 50)).key.account_id
        job = await service.submit(
            account, image_request(picture, tone), local_dirs=[picture.parent]
        )
        return account, job.id

    account, job_id = cli.with_service(queued)
    assert cli.with_service(lambda s: s.get_account(account)).balance == 40
    code, out, _ = cli.run("jobs", "cancel", job_id)
    assert code == 0
    assert out.strip() == f"canceled job {job_id}; its 10 credits went back to {account}"
    assert cli.with_service(lambda s: s.get_account(account)).balance == 50
    assert cli.with_service(lambda s: s.get_job(job_id)).status == "canceled"
    code, _, err = cli.run("jobs", "cancel", job_id)
    assert code == 1 and "already canceled" in err


@pytest.mark.parametrize(
    ("config", "base"),
    [
        ({"port": 9123}, "http://127.0.0.1:9123"),
        (
            {"port": 9123, "public_base_url": "https://lipsync.example.com/"},
            "https://lipsync.example.com",
        ),
    ],
)
def test_jobs_show_prints_the_output_url_under_the_configured_base(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    picture: Path,
    tone: Path,
    config: dict[str, Any],
    base: str,
) -> None:
    cli = Cli(tmp_path, capsys, **config)

    async def completed(service: Service) -> str:
        account = (await service.create_api_key("k", 50)).key.account_id
        job = await service.submit(
            account, image_request(picture, tone), local_dirs=[picture.parent]
        )
        claimed = await jobs.claim(service.db, "test", [job.model], lease_seconds=30)
        assert claimed is not None
        await jobs.complete(
            service.db, job.id, "test", output="abc.mp4", output_seconds=3.0, price=10, timings={}
        )
        return job.id

    job_id = cli.with_service(completed)
    code, out, _ = cli.run("jobs", "show", job_id)
    assert code == 0
    assert f'"output": "{base}/files/outputs/abc.mp4"' in out


# -- estimate ----------------------------------------------------------------------------


def test_estimate_measures_local_files_and_charges_nothing(
    cli: Cli, picture: Path, tone: Path
) -> None:
    code, out, _ = cli.run(
        "estimate", "image", "--image", str(picture), "--audio", str(tone), "--resolution", "720p"
    )
    assert code == 0
    # Three seconds of sound at 720p: five billable seconds (the minimum) at 4 credits.
    assert out.startswith("lipsync-image at 720p: 3.00 s of video, billed as 5 s: 20 credits")
    assert "nothing charged" in out
    assert cli.with_service(lambda s: s.list_jobs(None)) == []


def test_estimate_of_a_duet_counts_its_order(cli: Cli, picture: Path, tone: Path) -> None:
    args = ["estimate", "duet", "--image", str(picture)]
    args += ["--left-audio", str(tone), "--right-audio", str(tone)]
    assert ": 10 credits" in cli.run(*args)[1]  # both at once: 3 s -> 5 billable s
    assert ": 12 credits" in cli.run(*args, "--order", "left_right")[1]  # one after the other


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["image", "--image", "{picture}"], "estimate image needs --image --audio"),
        (["image", "--image", "{picture}", "--audio", "/no/such.wav"], "no such file"),
        (["image", "--image", "http://10.0.0.1/a.png", "--audio", "{tone}"], "private"),
        (["video", "--video", "{picture}", "--audio", "{tone}"], "must be a video"),
    ],
)
def test_estimate_refusals_say_what_is_wrong(
    cli: Cli, picture: Path, tone: Path, args: list[str], message: str
) -> None:
    argv = [a.format(picture=picture, tone=tone) for a in args]
    code, out, err = cli.run("estimate", *argv)
    assert code in (1, 2) and out == ""
    assert message in err


async def _async(value: T) -> T:
    return value


def test_users_create_makes_a_portal_account_from_a_piped_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    config = _closed_portal_config(tmp_path)
    assert main(["--config", str(config), "users", "create", "ops@example.org", "--admin"]) == 0
    made = capsys.readouterr().out
    assert "made admin ops@example.org" in made and "a long enough secret" not in made
    assert main(["--config", str(config), "users", "list"]) == 0
    assert "ops@example.org admin" in capsys.readouterr().out


def _closed_portal_config(tmp_path: Path) -> Path:
    """A config with sign-up closed: the operator's command must still make accounts."""
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n\n[portal]\nsignup = "closed"\n')
    return config
