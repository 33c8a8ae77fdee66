"""`pallet ps`: list containers in docker's layout (-a, -q, -s, -l, -n, --no-trunc, --filter, --format)."""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from pallet.cli.main import Context

FILTERS = ("id", "name", "label", "status", "exited", "ancestor", "before", "since")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    parser.add_argument("-f", "--filter", action="append", default=[], help="Filter output based on conditions provided")
    parser.add_argument("--format", help="Format output using a custom template")
    parser.add_argument("-n", "--last", type=int, default=-1, help="Show n last created containers (includes all states)")
    parser.add_argument("-l", "--latest", action="store_true", help="Show the latest created container (includes all states)")
    parser.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    parser.add_argument("-s", "--size", action="store_true", help="Display total file sizes")


def status_text(state: dict[str, Any]) -> str:
    """docker's STATUS column: Up 5 seconds, Up 2 minutes (Paused), Exited (0) 3 seconds ago, Created."""
    from pallet.cli.units import human_duration
    from pallet.engine.store import parse_iso

    now = time.time()
    if state.get("Restarting"):
        return f"Restarting ({state['ExitCode']}) {human_duration(now - parse_iso(state['FinishedAt']))} ago"
    if state.get("Running"):
        up = "Up " + human_duration(now - parse_iso(state["StartedAt"]))
        return up + " (Paused)" if state.get("Paused") else up
    if state.get("Status") == "removing":
        return "Removal In Progress"
    if state.get("Dead"):
        return "Dead"
    if parse_iso(state.get("FinishedAt", "")) == 0:
        return "Created"
    return f"Exited ({state['ExitCode']}) {human_duration(now - parse_iso(state['FinishedAt']))} ago"


def row(record: dict[str, Any], *, trunc: bool, size: bool, root: str = "") -> dict[str, Any]:
    from pallet.cli.units import human_duration
    from pallet.engine.store import parse_iso

    cmd = " ".join([record.get("Path", ""), *record.get("Args", [])]).strip()
    if trunc and len(cmd) > 20:
        cmd = cmd[:19] + "…"
    image = record.get("Pallet", {}).get("ImageName") or record["Config"].get("Image", "")
    created = parse_iso(record["Created"])
    labels = record["Config"].get("Labels") or {}
    out: dict[str, Any] = {
        "ID": record["Id"][:12] if trunc else record["Id"],
        "Image": image,
        "Command": f'"{cmd}"',
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(created)),
        "RunningFor": human_duration(time.time() - created) + " ago",
        "Ports": ports_text(record),
        "State": record["State"]["Status"],
        "Status": status_text(record["State"]),
        "Names": record["Name"].lstrip("/"),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Mounts": ",".join(m.get("Name") or m.get("Source", "") for m in record.get("Mounts") or []),
        "Networks": ",".join(sorted((record.get("NetworkSettings") or {}).get("Networks") or {})) or
                    (record["HostConfig"].get("NetworkMode") or ""),
        "Size": "",
        "Label": lambda key: labels.get(key, ""),
    }
    if size:
        out["Size"] = size_text(record, root)
    return out


def size_text(record: dict[str, Any], root: str) -> str:
    """docker's SIZE column: the container's own bytes and, in parentheses, with its image's."""
    from pallet.cli.units import human_size
    from pallet.engine.sizes import container_sizes

    rw, rootfs = container_sizes(root, record)
    return f"{human_size(rw)} (virtual {human_size(rootfs)})"


def ports_text(record: dict[str, Any]) -> str:
    ports = (record.get("NetworkSettings") or {}).get("Ports") or {}
    parts = []
    for port, bindings in sorted(ports.items()):
        if not bindings:
            parts.append(port)
            continue
        for b in bindings:
            parts.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{port}")
    return ", ".join(parts)


def match(record: dict[str, Any], filters: list[tuple[str, str]], engine: Any) -> bool:
    from pallet.engine.store import parse_iso

    groups: dict[str, list[str]] = {}
    for key, value in filters:
        groups.setdefault(key, []).append(value)
    labels = record["Config"].get("Labels") or {}
    for key, values in groups.items():
        if key == "label":  # docker: every label filter must match (the other keys: any value)
            if not all(_label_matches(labels, value) for value in values):
                return False
            continue
        ok = False
        for value in values:
            if key == "id":
                ok = record["Id"].startswith(value)
            elif key == "name":
                ok = value.lstrip("/") in record["Name"].lstrip("/")
            elif key == "status":
                ok = record["State"]["Status"] == value
            elif key == "exited":
                ok = not record["State"]["Running"] and str(record["State"]["ExitCode"]) == value \
                    and parse_iso(record["State"]["FinishedAt"]) > 0
            elif key == "ancestor":
                image = record.get("Pallet", {}).get("ImageName") or ""
                ok = value in (image, image.split(":")[0], record["Image"]) or record["Image"].split(":")[-1].startswith(value)
            elif key in ("before", "since"):
                other = engine.get(value)
                ok = record["Created"] < other["Created"] if key == "before" else record["Created"] > other["Created"]
            if ok:
                break
        if not ok:
            return False
    return True


def _label_matches(labels: dict[str, str], value: str) -> bool:
    key, sep, want = value.partition("=")
    return key in labels and (not sep or labels[key] == want)


def parse_filters(items: list[str]) -> list[tuple[str, str]]:
    from pallet.errors import ConfigError

    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in FILTERS:
            raise ConfigError(f"invalid filter {item!r} (allowed: {', '.join(FILTERS)}, as key=value)")
        if key == "status" and value not in ("created", "restarting", "running", "removing", "paused", "exited", "dead"):
            raise ConfigError(f"invalid filter 'status={value}': allowed are created, restarting, running, removing, "
                              "paused, exited, dead")
        out.append((key, value))
    return out


def run(args: argparse.Namespace, ctx: Context) -> int:
    engine = ctx.engine()
    filters = parse_filters(args.filter)
    records = engine.list(all=True)
    show_all = args.all or args.latest or args.last > 0 or any(k in ("status", "exited") for k, _ in filters)
    if not show_all:
        records = [r for r in records if r["State"]["Running"]]
    records = [r for r in records if match(r, filters, engine)]
    if args.latest:
        records = records[:1]
    elif args.last > 0:
        records = records[: args.last]
    from pallet.cli import format as fmtmod

    fmt = args.format or ""
    if args.quiet and not args.format:
        fmt = "{{.ID}}"
    layout = fmtmod.PS_SIZE if args.size and fmt in ("", "table") else fmtmod.PS
    chosen = fmtmod.choose_format(fmt, layout)
    rows = [row(r, trunc=not args.no_trunc, size=args.size or ".Size" in chosen, root=engine.root)
            for r in records]
    if chosen == "json":
        sys.stdout.write(fmtmod.render_json_lines(rows))
        return 0
    sys.stdout.write(fmtmod.render_list(chosen, rows, layout))
    return 0
