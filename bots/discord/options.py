"""Tunables of the Discord door that are not (yet) operator settings in config.toml.

They live here, as one frozen dataclass with Discord-shaped defaults, instead of in
`engine/config.py`: the engine must not know about Discord's limits, and the values follow
Discord's own rules (upload sizes, the 15-minute interaction token, edit rate limits) more
than an operator's taste. Tests pass a `DoorOptions` with smaller numbers; nothing else
needs to change them. Per-server choices (channels, cooldown, jobs at once) are not here:
server admins set those with `/lipsync-settings` (see `guild_settings.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class DoorOptions:
    # Largest attachment we accept as an input. Discord's own upload cap for most users is
    # 10-25 MiB, so anything bigger is unusual; refusing before download saves the bytes.
    max_attachment_bytes: int = 25 * MIB
    # Output upload limit when an interaction carries no `attachment_size_limit` (older
    # payloads): the size any bot may send to any server.
    default_upload_limit: int = 10 * MIB
    # Progress edits: Discord allows about five webhook edits per five seconds per token;
    # one every two seconds keeps well inside that while still feeling live.
    progress_interval: float = 2.0
    # Stop using the interaction token this long before its 15 minutes are up, so a
    # request in flight never races the expiry; later news goes to the channel instead.
    token_margin: float = 60.0
    # How long a command waits for its job before saying "still working, see /jobs".
    job_timeout: float = 6 * 3600.0
    # Downloading one attachment from Discord's CDN.
    download_timeout: float = 60.0
    # Defaults of a server whose admins never ran /lipsync-settings. One job at a time per
    # user is what the issue asks for; a short cooldown stops accidental double submits.
    default_cooldown_seconds: int = 10
    default_max_jobs: int = 1
    # Whether `setup_hook` registers the slash commands with Discord (global sync).
    sync_commands: bool = True
