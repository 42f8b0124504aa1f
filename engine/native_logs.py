"""Keep the native libraries' log lines (MediaPipe, TensorFlow Lite, absl) off the terminal.

When a MediaPipe graph starts, its C++ code writes lines such as

    INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    W0000 00:00:1700000000.123456   4242 inference_feedback_manager.cc:114] Feedback ...

straight to file descriptor 2, from the graph's own threads, a moment after the graph was
made: not through Python's logging, and (mediapipe 0.10.21) whatever `GLOG_minloglevel` or
`TF_CPP_MIN_LOG_LEVEL` say. Redirecting fd 2 around the graph's creation would race those
threads. So a process that renders (the CLI's `render`, each spawned render process) sends
fd 2 through a pipe for its whole life: a thread reads it, drops those informational and
warning lines, and passes everything else on (native errors and fatal messages included).
Python's own `sys.stderr` keeps writing to the terminal directly, so tracebacks and the
progress bar neither wait for that thread nor lose their terminal.

`LIPSYNC_NATIVE_LOGS=1` in the environment (what `lipsync --verbose` sets, and what
spawned render processes inherit) leaves fd 2 alone.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import sys
import threading

KEEP_VAR = "LIPSYNC_NATIVE_LOGS"

# glog/absl lines of severity I(nfo) or W(arning): "W0000 00:00:1700000000.123456  4242
# file.cc:114] ..." (before absl is initialised the time is seconds since 1970, after it
# "0123 12:34:56.789"); TF Lite's own informational lines; absl's notice about itself.
NOISE = re.compile(
    rb"^(?:[IW]\d{4} [\d:.]+\s+\d+ [^\s\]]+:\d+\] "
    rb"|INFO: "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called)"
)
JOIN_SECONDS = 1.0

_lock = threading.Lock()
_installed = False


def keep_native_logs() -> None:
    """Leave native log lines alone in this process and the render processes it spawns."""
    os.environ[KEEP_VAR] = "1"


def quiet_native_logs() -> bool:
    """Filter the native libraries' log noise out of fd 2 from now on, for this process.

    Call it before MediaPipe is imported. Returns whether the filter is in place (False when
    `LIPSYNC_NATIVE_LOGS=1` asks to keep them). Calling it again does nothing.
    """
    global _installed
    with _lock:
        if _installed:
            return True
        if os.environ.get(KEEP_VAR) == "1":
            return False
        # Honoured by builds that log through glog or TensorFlow's own logger.
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with contextlib.suppress(AttributeError, ValueError, OSError):
            sys.stderr.flush()
        terminal = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        sys.stderr = open(  # noqa: SIM115 - lives as long as the process
            terminal, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False
        )
        pump = threading.Thread(
            target=_pump, args=(read_end, terminal), daemon=True, name="native-logs"
        )
        pump.start()
        atexit.register(_drain, terminal, pump)
        _installed = True
        return True


def _pump(read_fd: int, out_fd: int) -> None:
    pending = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = b"".join(line + b"\n" for line in lines if not NOISE.match(line))
        if kept:
            _write_all(out_fd, kept)
    if pending and not NOISE.match(pending):
        _write_all(out_fd, pending)
    os.close(read_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except OSError:
            return
        view = view[written:]


def _drain(terminal: int, pump: threading.Thread) -> None:
    """At exit: point fd 2 back at the terminal (closing the pipe) and let the reader pass
    on what is still in it. A render process spawned from here may hold the pipe open, so
    the wait is short."""
    try:
        os.dup2(terminal, 2)
    except OSError:
        return
    pump.join(JOIN_SECONDS)
