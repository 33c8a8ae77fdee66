"""`pallet events`: container events from the store's event log (--since, --until, --filter, --format)."""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--filter", action="append", default=[], help="Filter output based on conditions provided")
    parser.add_argument("--format", help="Format the output using the given Go template")
    parser.add_argument("--since", help="Show all events created since timestamp")
    parser.add_argument("--until", help="Stream events until this timestamp")


def _match(ev: dict[str, Any], filters: list[tuple[str, str]]) -> bool:
    groups: dict[str, list[str]] = {}
    for k, v in filters:
        groups.setdefault(k, []).append(v)
    attrs = ev.get("Actor", {}).get("Attributes", {})
    for key, values in groups.items():
        if key in ("event", "action"):
            ok = ev["Action"] in values
        elif key == "container":
            ok = any(ev["id"].startswith(v) or attrs.get("name") == v for v in values)
        elif key == "type":
            ok = ev["Type"] in values
        elif key == "image":
            ok = attrs.get("image") in values
        else:  # label: every one must match, as docker's
            ok = all(attrs.get(v.partition("=")[0]) == v.partition("=")[2] if "=" in v else v in attrs for v in values)
        if not ok:
            return False
    return True


def _print(ev: dict[str, Any], fmt: str | None) -> None:
    import json

    if fmt == "json" or fmt == "{{json .}}":
        print(json.dumps(ev))
    elif fmt:
        from pallet.cli.commands._common import render

        print(render(fmt, ev))
    else:
        # Go's RFC3339NanoFixed in local time: 9 digits, "Z" for UTC, else +hh:mm
        local = time.localtime(ev["time"])
        off = local.tm_gmtoff or 0
        zone = "Z" if off == 0 else f"{'-' if off < 0 else '+'}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", local) + f".{ev['timeNano'] % 10**9:09d}{zone}"
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(ev["Actor"]["Attributes"].items()))
        print(f"{stamp} {ev['Type']} {ev['Action']} {ev['id']} ({attrs})")
    sys.stdout.flush()


def run(args: argparse.Namespace, ctx: Context) -> int:
    import json
    import os

    from pallet.cli.commands.logs import parse_time
    from pallet.errors import ConfigError

    filters = []
    for item in args.filter:
        key, sep, value = item.partition("=")
        if not sep or key not in ("event", "action", "container", "type", "image", "label"):
            raise ConfigError(f"invalid filter {item!r} (allowed: event, container, type, image, label as key=value)")
        filters.append((key, value))
    since = parse_time(args.since, "--since") if args.since else None
    until = parse_time(args.until, "--until") if args.until else None
    path = os.path.join(ctx.engine().root, "events.log")
    pos = 0
    start = time.time()
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(pos)
                data = f.read()
        except FileNotFoundError:
            data = b""
        complete = data[: data.rfind(b"\n") + 1]
        pos += len(complete)
        for line in complete.splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            t = ev["timeNano"] / 1e9
            if (since is None and t < start) or (since is not None and t < since):
                continue
            if until is not None and t > until:
                continue
            if _match(ev, filters):
                _print(ev, args.format)
        if until is not None and time.time() > until:
            return 0
        time.sleep(0.1)
