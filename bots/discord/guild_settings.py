"""Per-server settings (allowed channels, cooldown, jobs at once) and the gate that applies them.

Storage choice: one small JSON file, `<data_dir>/discord/guilds.json`, written atomically
(temporary file + `os.replace`), not a table in the engine's SQLite database. The settings
are a few hundred bytes per server, change only when an admin runs a command, belong to this
door alone, and must not depend on the engine's migrations; a JSON file is easy to read,
back up or edit by hand, and a crash mid-write leaves the old file intact.

The gate does not keep its own job bookkeeping: "how many jobs does this user have running"
and "when did they last start one" come from the engine's job list (`service.list_jobs` on
the user's account), so they survive restarts. The only in-memory state covers the
seconds between a command's checks and its job reaching the database (download, probe,
price), so two quick commands cannot both slip through.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.service import Service
from engine.vocabulary import ACTIVE_STATUSES, Status

log = logging.getLogger("lipsync.discord")

COUNTED_FOR_COOLDOWN = (*ACTIVE_STATUSES, Status.COMPLETED)
MAX_COOLDOWN_SECONDS = 24 * 3600
MAX_JOBS_LIMIT = 10


@dataclass(frozen=True)
class GuildSettings:
    """What a server's admins chose; an empty `channels` means every channel is allowed."""

    channels: tuple[int, ...] = ()
    cooldown_seconds: int = 10
    max_jobs: int = 1

    def allows(self, channel_id: int | None) -> bool:
        return not self.channels or channel_id in self.channels


class GuildSettingsStore:
    """Settings per server id in a JSON file; reads are cached, writes are atomic."""

    def __init__(self, path: Path, defaults: GuildSettings) -> None:
        self.path = path
        self.defaults = defaults
        self._lock = asyncio.Lock()
        self._data: dict[str, dict[str, Any]] | None = None

    def get(self, guild_id: int | None) -> GuildSettings:
        """A server's settings, or the defaults (also for direct messages)."""
        if guild_id is None:
            return self.defaults
        stored = self._load().get(str(guild_id))
        if not stored:
            return self.defaults
        return GuildSettings(
            channels=tuple(int(c) for c in stored.get("channels", ())),
            cooldown_seconds=int(stored.get("cooldown_seconds", self.defaults.cooldown_seconds)),
            max_jobs=int(stored.get("max_jobs", self.defaults.max_jobs)),
        )

    async def update(self, guild_id: int, **changes: Any) -> GuildSettings:
        """Change some fields of one server's settings and save the file."""
        async with self._lock:
            settings = replace(self.get(guild_id), **changes)
            data = dict(self._load())
            stored = asdict(settings)
            stored["channels"] = list(settings.channels)
            data[str(guild_id)] = stored
            await asyncio.to_thread(_write_atomically, self.path, data)
            self._data = data
            return settings

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._data is None:
            try:
                self._data = json.loads(self.path.read_text("utf-8"))
            except FileNotFoundError:
                self._data = {}
            except (OSError, ValueError):
                log.exception("cannot read %s; using default server settings", self.path)
                self._data = {}
        return self._data


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".guilds-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


class Refused(Exception):
    """A command the gate turns away; the message is shown to the user as it is."""


@dataclass
class _Pending:
    started: float
    released: bool = False


@dataclass
class Claim:
    """A user's place in line between the checks and their job's arrival in the database."""

    gate: Gate
    account_id: str
    pending: _Pending = field(default_factory=lambda: _Pending(time.time()))

    def release(self) -> None:
        """Give the place back (the job was submitted, or the command failed). Idempotent."""
        if not self.pending.released:
            self.pending.released = True
            self.gate._drop(self.account_id, self.pending)


class Gate:
    """Applies a server's cooldown and jobs-at-once limit to one user's new command."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._locks: dict[str, asyncio.Lock] = {}
        self._pending: dict[str, list[_Pending]] = {}

    async def claim(self, account_id: str, settings: GuildSettings) -> Claim:
        """Admit the command or raise `Refused` with a message that says what to do."""
        lock = self._locks.setdefault(account_id, asyncio.Lock())
        async with lock:
            pending = self._pending.get(account_id, [])
            active = await self.service.list_jobs(
                account_id, statuses=tuple(ACTIVE_STATUSES), limit=50
            )
            running = len(active) + len(pending)
            if running >= settings.max_jobs:
                jobs = "one video" if settings.max_jobs == 1 else f"{settings.max_jobs} videos"
                raise Refused(
                    f"You already have {_count(running)} in progress, and this server allows "
                    f"{jobs} at a time. Wait for it to finish (see `/jobs`), then try again."
                )
            wait = await self._cooldown_left(account_id, settings, pending)
            if wait > 0:
                raise Refused(
                    f"Slow down: this server has a {settings.cooldown_seconds} s cooldown. "
                    f"You can start another video in {wait} s."
                )
            claim = Claim(self, account_id)
            self._pending.setdefault(account_id, []).append(claim.pending)
            return claim

    async def _cooldown_left(
        self, account_id: str, settings: GuildSettings, pending: list[_Pending]
    ) -> int:
        if settings.cooldown_seconds <= 0:
            return 0
        starts = [p.started for p in pending]
        recent = await self.service.list_jobs(account_id, statuses=COUNTED_FOR_COOLDOWN, limit=1)
        starts.extend(job.created_at for job in recent)
        if not starts:
            return 0
        left = max(starts) + settings.cooldown_seconds - time.time()
        return max(0, int(left + 0.999))

    def _drop(self, account_id: str, pending: _Pending) -> None:
        entries = self._pending.get(account_id, [])
        with contextlib.suppress(ValueError):
            entries.remove(pending)
        if not entries:
            self._pending.pop(account_id, None)


def _count(n: int) -> str:
    return "a video" if n == 1 else f"{n} videos"
