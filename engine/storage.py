"""Where files live under the data directory, and what their public URLs are.

    data/inputs/<job id>/<role>.<ext>   inputs fetched or copied at submit
    data/uploads/<token>.<ext>          files posted to the upload endpoint
    data/outputs/<token>.mp4            results, served publicly
    data/work/<job id>/                 scratch space of a running job

Output and upload names are random tokens (128 bits), so a URL cannot be guessed from a job
id or from another URL: knowing the URL is the permission to read the file, as with the
hosted services' signed storage links.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

OUTPUTS = "outputs"
UPLOADS = "uploads"
PUBLIC_PREFIX = "/files"


class Storage:
    def __init__(self, root: Path, base_url: str) -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")
        for sub in ("inputs", UPLOADS, OUTPUTS, "work"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def input_dir(self, job_id: str) -> Path:
        path = self.root / "inputs" / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def work_dir(self, job_id: str) -> Path:
        path = self.root / "work" / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def new_output_name(self) -> str:
        return f"{secrets.token_urlsafe(16)}.mp4"

    def output_path(self, name: str) -> Path:
        return self.root / OUTPUTS / name

    def new_upload_path(self, suffix: str) -> Path:
        return self.root / UPLOADS / f"{secrets.token_urlsafe(16)}{suffix}"

    def public_url(self, path: Path) -> str:
        relative = path.resolve().relative_to(self.root.resolve())
        return f"{self.base_url}{PUBLIC_PREFIX}/{relative.as_posix()}"

    def output_url(self, name: str) -> str:
        return f"{self.base_url}{PUBLIC_PREFIX}/{OUTPUTS}/{name}"

    def resolve_public(self, relative: str) -> Path | None:
        """Map a public path (`outputs/x.mp4`) back to a file, refusing anything outside."""
        parts = relative.split("/")
        if len(parts) != 2 or parts[0] not in (OUTPUTS, UPLOADS) or not _safe_name(parts[1]):
            return None
        path = self.root / parts[0] / parts[1]
        return path if path.is_file() else None

    def local_file_for_url(self, url: str) -> Path | None:
        """An upload or output of ours named by its public URL: used without fetching it."""
        prefix = f"{self.base_url}{PUBLIC_PREFIX}/"
        if not url.startswith(prefix):
            return None
        return self.resolve_public(url[len(prefix) :])

    def discard_job_files(self, job_id: str) -> None:
        shutil.rmtree(self.root / "inputs" / job_id, ignore_errors=True)
        shutil.rmtree(self.root / "work" / job_id, ignore_errors=True)

    def sweep(self, retention_seconds: float, now: float | None = None) -> int:
        """Delete inputs, uploads and outputs older than the retention period."""
        cutoff = (now or time.time()) - retention_seconds
        removed = 0
        for sub in ("inputs", UPLOADS, OUTPUTS, "work"):
            for entry in (self.root / sub).iterdir():
                try:
                    stale = entry.stat().st_mtime < cutoff
                except FileNotFoundError:  # another process's sweep was quicker
                    continue
                if stale:
                    if entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
                    removed += 1
        return removed


def make_private(path: Path) -> None:
    """Create `path` readable and writable by its owner only, or narrow an existing file
    to that (a database made 0644 by an older version)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def write_private(path: Path, text: str) -> None:
    """Write a secret to a file that no other user can read, at any moment of its life."""
    path.parent.mkdir(parents=True, exist_ok=True)
    make_private(path)
    with path.open("w") as out:
        out.write(text)


# Bytes: no file system here holds a longer name, and asking it about one raises instead of
# answering "no such file".
NAME_MAX = 255


def _safe_name(name: str) -> bool:
    return (
        bool(name)
        and "/" not in name
        and "\\" not in name
        and not name.startswith(".")
        and len(name.encode()) <= NAME_MAX
    )
