"""`lipsync users`: the operator makes portal accounts (the only way when
`portal.signup = "closed"`) and lists them."""

from __future__ import annotations

import argparse
import getpass
import sys

from engine.service import Service


def add_users_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    users = sub.add_parser("users", help="portal accounts").add_subparsers(
        dest="action", required=True
    )
    create = users.add_parser(
        "create",
        help="make a portal account (asks for the password; or reads one line from stdin)",
    )
    create.add_argument("email")
    create.add_argument("--admin", action="store_true", help="may open the admin pages")
    users.add_parser("list", help="list portal accounts")


async def run_users(service: Service, args: argparse.Namespace) -> int:
    if args.action == "create":
        password = _password()
        if password is None:
            print("lipsync: the two passwords differ; nothing was made", file=sys.stderr)
            return 2
        person = await service.sign_up(args.email, password, admin=args.admin, by_operator=True)
        role = "admin" if person.admin else "person"
        where = f"{service.settings.base_url}/signin"
        print(f"made {role} {person.email} ({person.id}); sign in at {where}")
        return 0
    for person in await service.list_users():
        api = await service.get_account(person.api_account_id)
        spend = await service.get_account(person.user_account_id)
        flag = " admin" if person.admin else ""
        print(f"{person.id}  {person.email}{flag}  api {api.balance}  user {spend.balance}")
    return 0


def _password() -> str | None:
    """Asked twice on a terminal (never echoed); otherwise the first line of stdin, so that
    a script can pipe it in without it showing up in the process list."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (at least 10 characters): ")
    return first if getpass.getpass("The same again: ") == first else None
