"""The `lipsync` command: the composition root that wires the engine to its doors.

It lives outside `engine/` because it imports the doors (the HTTP app, MCP, the bots), and
the engine must never do that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from engine.config import Settings, load_settings
from engine.errors import ConfigError, LipsyncError, NotFound
from engine.ledger import Account, Entry
from engine.native_logs import keep_native_logs
from engine.service import Service
from engine.vocabulary import Plan

# The chat doors whose users `credits grant` may name before they have talked to the bot.
CHAT_PLATFORMS = ("telegram", "discord")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lipsync", description="Self-hostable lipsync service")
    parser.add_argument("--config", help="config file (default: $LIPSYNC_CONFIG or ./config.toml)")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="keep the log lines of MediaPipe and TensorFlow Lite (hidden by default)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API, MCP, bots and the worker pool")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="render processes (default: config)")

    worker = sub.add_parser("worker", help="run extra render workers on the same database")
    worker.add_argument("--workers", type=int, help="render processes (default: config)")

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    create = keys.add_parser(
        "create", help="create a key (printed once, as the last line) and show its webhook secret"
    )
    create.add_argument("--name", default="")
    create.add_argument("--credits", type=int, default=0)
    create.add_argument("--plan", default=Plan.FREE.value, choices=[p.value for p in Plan])
    keys.add_parser("list", help="list keys")
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")
    secret = keys.add_parser("secret", help="show the whsec_ secret that signs a key's webhooks")
    secret.add_argument("key_id")

    credits = sub.add_parser("credits", help="credits").add_subparsers(dest="action", required=True)
    grant = credits.add_parser("grant", help="add credits to an account")
    grant.add_argument(
        "account",
        help="account id, API key id, or owner such as telegram:123 (a chat user's account "
        "is made, with its starter credits, if it does not exist yet)",
    )
    grant.add_argument("credits", type=int)
    grant.add_argument("--note", default="granted by an admin")
    balance = credits.add_parser("balance", help="show an account's balance and last entries")
    balance.add_argument("account")
    entries = credits.add_parser("ledger", help="show an account's ledger entries, newest first")
    entries.add_argument("account")
    entries.add_argument("--limit", type=int, default=50)

    jobs = sub.add_parser("jobs", help="jobs").add_subparsers(dest="action", required=True)
    jlist = jobs.add_parser("list", help="list recent jobs")
    jlist.add_argument("--status", action="append", default=[])
    jlist.add_argument("--limit", type=int, default=20)
    show = jobs.add_parser("show", help="show one job")
    show.add_argument("job_id")
    cancel = jobs.add_parser("cancel", help="cancel a queued or running job (refunded)")
    cancel.add_argument("job_id")

    sub.add_parser("mcp", help="run the MCP server on stdio (for desktop assistants)")

    bot = sub.add_parser("bot", help="run a chat bot (with its own render workers)")
    bot.add_argument("platform", choices=["telegram", "discord"])

    from cli.estimate import add_estimate_parser
    from cli.render import add_render_parser
    from cli.users import add_users_parser

    add_render_parser(sub)
    add_estimate_parser(sub)
    add_users_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        keep_native_logs()  # here and in the render processes this one spawns
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"lipsync: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return _dispatch(args, settings)
    except ConfigError as exc:
        print(f"lipsync: {exc}", file=sys.stderr)
        return 2
    except LipsyncError as exc:
        print(f"lipsync: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run a long-lived process on uvloop (faster I/O for the HTTP API), else asyncio."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(main)
    return uvloop.run(main)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        from cli.serve import serve

        if args.host:
            settings.host = args.host
        if args.port:
            settings.port = args.port
        if args.workers is not None:
            settings.workers.count = args.workers
        return run_loop(serve(settings))
    if args.command == "worker":
        from cli.serve import run_worker

        return asyncio.run(run_worker(settings, args.workers))
    if args.command == "mcp":
        from mcp_server.stdio import run_stdio

        return asyncio.run(run_stdio(settings))
    if args.command == "bot":
        from cli.serve import run_bot

        return asyncio.run(run_bot(settings, args.platform))
    if args.command == "render":
        from cli.render import run_render

        return run_render(args, settings)
    return asyncio.run(_admin(args, settings))


async def _admin(args: argparse.Namespace, settings: Settings) -> int:
    service = await Service.open(settings)
    try:
        if args.command == "keys":
            return await _keys(service, args)
        if args.command == "credits":
            return await _credits(service, args)
        if args.command == "jobs":
            return await _jobs(service, args)
        if args.command == "estimate":
            from cli.estimate import run_estimate

            return await run_estimate(service, args)
        if args.command == "users":
            from cli.users import run_users

            return await run_users(service, args)
    finally:
        await service.close()
    return 2


async def _keys(service: Service, args: argparse.Namespace) -> int:
    if args.action == "create":
        new = await service.create_api_key(args.name, args.credits, args.plan)
        print(
            f"created API key {new.key.id} ({new.key.name or 'no name'}) with "
            f"{new.key.balance} credits, plan {new.key.plan}"
        )
        print(
            f"webhook secret: {service.webhook_secret(new.key.id)} "
            f"(shown again by `lipsync keys secret {new.key.id}`)"
        )
        print("the key, shown only now:")
        print(new.secret)
    elif args.action == "list":
        rows = [
            [
                k.id,
                k.name,
                k.plan,
                str(k.balance),
                _when(k.created_at),
                _when(k.last_used_at),
                "revoked" if k.revoked_at else "active",
            ]
            for k in await service.list_api_keys()
        ]
        _table(["id", "name", "plan", "credits", "created", "last used", "state"], rows)
    elif args.action == "revoke":
        key = await service.revoke_api_key(args.key_id)
        print(f"revoked API key {key.id}")
    elif args.action == "secret":
        key = await service.get_api_key(args.key_id)
        print(service.webhook_secret(key.id))
    return 0


async def _credits(service: Service, args: argparse.Namespace) -> int:
    if args.action == "grant":
        account = await _grant_target(service, args.account)
        await service.grant(account.id, args.credits, note=args.note)
        account = await service.get_account(account.id)
        print(f"{account.id} ({account.owner}) now has {account.balance} credits")
        return 0
    account = await service.resolve_account(args.account)
    if args.action == "ledger":
        _entries(await service.ledger_entries(account.id, limit=max(1, args.limit)))
    else:
        print(f"{account.id} ({account.owner}, {account.kind}): {account.balance} credits")
        _entries(await service.ledger_entries(account.id, limit=20))
    return 0


async def _grant_target(service: Service, ref: str) -> Account:
    """The account named by `ref`; a chat user's (`telegram:<id>`, `discord:<id>`) is made
    with its starter credits when the user has not talked to the bot yet, as the bot would."""
    try:
        return await service.resolve_account(ref)
    except NotFound:
        platform, _, user_id = ref.partition(":")
        if platform not in CHAT_PLATFORMS or not user_id.isdigit():
            raise NotFound(
                f"no account, API key or owner named {ref} (chat users are named "
                f"{' or '.join(f'{p}:<user id>' for p in CHAT_PLATFORMS)})"
            ) from None
    account = await service.user_account(platform, int(user_id))
    print(f"made the account of {account.owner} with {account.balance} starter credits")
    return account


def _entries(entries: list[Entry]) -> None:
    rows = [
        [
            _when(e.created_at),
            e.kind,
            f"{e.amount:+d}",
            str(e.balance_after),
            e.job_id or "",
            e.note,
        ]
        for e in entries
    ]
    _table(["when", "kind", "amount", "balance", "job", "note"], rows)


async def _jobs(service: Service, args: argparse.Namespace) -> int:
    if args.action == "list":
        rows = [
            [
                j.id,
                j.model,
                j.status,
                f"{j.progress:.0%}",
                str(j.charged if j.charged is not None else j.estimate),
                _when(j.created_at),
                j.error[:40],
            ]
            for j in await service.list_jobs(None, statuses=args.status, limit=args.limit)
        ]
        _table(["id", "model", "status", "progress", "credits", "created", "error"], rows)
    elif args.action == "cancel":
        job = await service.cancel(args.job_id)
        print(f"canceled job {job.id}; its {job.estimate} credits went back to {job.account_id}")
    else:
        job = await service.get_job(args.job_id)
        data: dict[str, Any] = {
            "id": job.id,
            "account": job.account_id,
            "model": job.model,
            "status": job.status,
            "stage": job.stage,
            "progress": job.progress,
            "params": job.params,
            "output": service.output_url(job),
            "output_seconds": job.output_seconds,
            "estimate": job.estimate,
            "charged": job.charged,
            "error": job.error,
            "error_code": job.error_code,
            "attempts": job.attempts,
            "timings": job.timings,
            "execution_ms": job.execution_ms,
            "created": _when(job.created_at),
            "finished": _when(job.finished_at),
        }
        print(json.dumps(data, indent=2))
    return 0


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
    if not rows:
        print("(none)")


if __name__ == "__main__":
    sys.exit(main())
