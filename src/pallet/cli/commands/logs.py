"""`pallet logs`: the container's json-file log (-f, --tail, -t, --since, --until)."""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    parser.add_argument("--tail", "-n", default="all", help='Number of lines to show from the end of the logs (default "all")')
    parser.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    parser.add_argument("--since", help="Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)")
    parser.add_argument("--until", help="Show logs before a timestamp or relative (e.g. 42m)")
    parser.add_argument("--details", action="store_true", help="Show extra details provided to logs")
    parser.add_argument("container", metavar="CONTAINER")


def parse_time(value: str, flag: str) -> float:
    """docker's --since/--until: RFC 3339 time, unix seconds, or a duration before now (10m, 1h30m, 5s)."""
    from pallet.engine.store import parse_iso
    from pallet.errors import ConfigError

    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total, num, i = 0.0, "", 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = text[i:i + 2] if text[i:i + 2] == "ms" else ch
        if unit not in units or not num:
            total = -1
            break
        total += float(num) * units[unit]
        num, i = "", i + len(unit)
    if total >= 0 and not num and text:
        return time.time() - total
    try:
        return parse_iso(text if text.endswith("Z") else text + "Z")
    except ValueError:
        raise ConfigError(f"invalid {flag} value {value!r}: expected a time (2013-01-02T13:23:37Z), "
                          "unix seconds or a duration like 42m") from None


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.engine.store import parse_iso
    from pallet.errors import ConfigError

    engine = ctx.engine()
    record = engine.get(args.container)
    path = record.get("LogPath") or ""
    if not path:
        raise ConfigError('configured logging driver does not support reading ("none")')
    since = parse_time(args.since, "--since") if args.since else 0.0
    until = parse_time(args.until, "--until") if args.until else 0.0
    if args.tail != "all" and not args.tail.lstrip("-").isdigit():
        raise ConfigError(f"invalid --tail {args.tail!r}: expected a number or 'all'")
    entries, pos, ino = snapshot(path)
    if since or until:
        entries = [e for e in entries if (not since or parse_iso(e["time"]) >= since)
                   and (not until or parse_iso(e["time"]) <= until)]
    if args.tail != "all" and int(args.tail) >= 0:
        entries = entries[len(entries) - int(args.tail):] if int(args.tail) else []
    for e in entries:
        emit(e, args.timestamps)
    sys.stdout.flush()
    if args.follow:
        follow(engine, record["Id"], path, args.timestamps, (pos, ino), until)
    return 0


def snapshot(path: str) -> tuple[list[dict], int, int]:  # type: ignore[type-arg]
    """The entries logged so far (rotated files oldest first), and where the live file was read up to
    (offset, inode), so that following goes on exactly there: no line lost or printed twice."""
    import json

    from pallet.engine.logs import log_files

    entries, pos, ino = [], 0, 0
    for name in log_files(path):
        try:
            with open(name, "rb") as f:
                data = f.read()
                if name == path:
                    ino = os.fstat(f.fileno()).st_ino
                    data = data[: data.rfind(b"\n") + 1]
                    pos = len(data)
        except FileNotFoundError:  # rotated away meanwhile
            continue
        for line in data.splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
    return entries, pos, ino


def emit(entry: dict, timestamps: bool) -> None:  # type: ignore[type-arg]
    out = sys.stdout if entry.get("stream") != "stderr" else sys.stderr
    text = entry.get("log", "")
    out.write(f"{entry['time']} {text}" if timestamps else text)


def follow(engine: object, cid: str, path: str, timestamps: bool, start: tuple[int, int], until: float) -> None:
    """Print new entries until the container stops (or --until passes)."""
    import json

    from pallet.engine.service import Engine

    assert isinstance(engine, Engine)
    pos, ino = start
    while True:
        running = engine.get(cid)["State"]["Running"]
        try:
            st = os.stat(path)
            if st.st_ino != ino:  # rotated: read the new file from its start
                ino, pos = st.st_ino, 0
            with open(path, "rb") as f:
                f.seek(pos)
                data = f.read()
        except FileNotFoundError:
            data = b""
        if data:
            complete = data[: data.rfind(b"\n") + 1]
            pos += len(complete)
            for line in complete.splitlines():
                try:
                    emit(json.loads(line), timestamps)
                except ValueError:
                    continue
            sys.stdout.flush()
            sys.stderr.flush()
        if not running or (until and time.time() > until):
            return
        time.sleep(0.1)
