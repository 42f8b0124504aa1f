"""What every handler needs besides the update: the engine, limits, files, running deliveries.

One `Runtime` lives in `application.bot_data` for the life of the door. Handlers reach it
through `runtime(context)`; per-user conversation state (the `Draft`) lives in
`context.user_data`, which python-telegram-bot keeps per Telegram user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from telegram import User
from telegram.ext import ContextTypes

from bots.shared import Inbox
from bots.telegram.drafts import Draft
from bots.telegram.limits import Limits
from engine.ledger import Account
from engine.service import Service

log = logging.getLogger("lipsync.telegram")

Context = ContextTypes.DEFAULT_TYPE
PLATFORM = "telegram"


class Deliveries:
    """Background tasks that watch renders and send results, so handlers return at once.

    A render takes seconds to minutes; awaiting it inside a handler would hold up that
    user's next messages. The tasks are ours rather than `application.create_task`'s
    because `Application.stop()` waits for those, and a stop must not wait for a render:
    the job lives on in the engine and is picked up again by the next start.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def start(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        if self._closed:  # stopping: the job is resumed by the next start instead
            coroutine.close()
            return
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery %s failed", task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        """Stop every delivery. Cancels again if one swallowed the cancellation (Python
        3.11's `asyncio.wait_for` can lose a cancel that lands as its inner wait ends)."""
        self._closed = True
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)


@dataclass
class Runtime:
    service: Service
    limits: Limits
    inbox: Inbox
    deliveries: Deliveries = field(default_factory=Deliveries)

    @property
    def admins(self) -> set[int]:
        return set(self.service.settings.telegram.admins)

    async def account(self, user: User) -> Account:
        """The user's credit account (made with starter credits on first contact)."""
        return await self.service.user_account(PLATFORM, user.id, user.full_name)


def runtime(context: Context) -> Runtime:
    return context.bot_data["runtime"]


def current_draft(context: Context) -> Draft | None:
    return context.user_data.get("draft") if context.user_data is not None else None


def set_draft(context: Context, draft: Draft) -> None:
    """Make `draft` the user's request, throwing away the files of the one it replaces."""
    old = current_draft(context)
    if old is not None and old is not draft:
        runtime(context).inbox.discard(old.folder)
    assert context.user_data is not None
    context.user_data["draft"] = draft


def drop_draft(context: Context) -> Draft | None:
    """Forget the user's request and its files; return it (None if there was none)."""
    draft = context.user_data.pop("draft", None) if context.user_data is not None else None
    if draft is not None:
        runtime(context).inbox.discard(draft.folder)
    return draft
