"""Logging of ``pallet-runtime``: to stderr, and to the --log file in text or JSON (as runc does).

containerd and podman read the --log file (JSON lines with level, msg and time) when a runtime
command fails, so every error goes there as well as to stderr.
"""

from __future__ import annotations

import os
import sys
import time

_STARTED = time.monotonic()
_log_path: str | None = None
_log_json = False
_debug = False


def configure(path: str | None, fmt: str, debug: bool) -> None:
    global _log_path, _log_json, _debug
    _log_path = path or None
    _log_json = fmt == "json"
    _debug = debug


def _timestamp() -> str:
    now = time.time()
    frac = f"{now % 1:.9f}"[1:]
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + frac + "Z"


def _write_file(level: str, msg: str) -> None:
    if not _log_path:
        return
    if _log_json:
        import json

        line = json.dumps({"level": level, "msg": msg, "time": _timestamp()})
    else:
        line = f'time="{_timestamp()}" level={level} msg="{msg}"'
    try:
        fd = os.open(_log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def error(msg: str) -> None:
    """An error: to the log file and to stderr."""
    _write_file("error", msg)
    try:
        sys.stderr.write(f"pallet-runtime: {msg}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def warning(msg: str) -> None:
    _write_file("warning", msg)
    try:
        sys.stderr.write(f"pallet-runtime: warning: {msg}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def enabled() -> bool:
    """True with --debug: callers skip building messages otherwise."""
    return _debug


def step(name: str) -> None:
    """With --debug, when a step of the container's set-up was reached (ms since the process began)."""
    if _debug:
        debug(f"{_elapsed_ms():7.2f} ms  {name}")


def span(name: str, start: float, end: float) -> None:
    """With --debug, something that lasted from ``start`` to ``end`` (time.monotonic())."""
    if _debug:
        at, until = (start - _STARTED) * 1000, (end - _STARTED) * 1000
        debug(f"{at:7.2f} ms  {name}: {until - at:.2f} ms (until {until:.2f} ms)")


def _elapsed_ms() -> float:
    return (time.monotonic() - _STARTED) * 1000


def debug(msg: str) -> None:
    if _debug:
        _write_file("debug", msg)
        try:
            sys.stderr.write(f"pallet-runtime: debug: {msg}\n")
        except (OSError, ValueError):
            pass
