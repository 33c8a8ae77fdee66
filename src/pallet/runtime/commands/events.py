"""pallet-runtime events: a container's statistics and OOM kills, as JSON lines (runc's shapes).

With --stats: one stats event, then exit.  Without: a stats event every --interval, and an "oom"
event as soon as the cgroup's OOM-kill count grows (polled every 100 ms), until the container stops.
"""

from __future__ import annotations

from pallet.runtime.cliparse import Option, UsageError
from pallet.runtime.commands._common import container_id

USAGE = "pallet-runtime events [command options] <container-id>"
OPTIONS = (
    Option("--interval", value=True, default="5s", help="set the stats collection interval (default: 5s)"),
    Option("--stats", help="display the container's stats then exit"),
)

_UNITS = (("ms", 0.001), ("us", 1e-6), ("ns", 1e-9), ("s", 1.0), ("m", 60.0), ("h", 3600.0))


def parse_interval(text: str) -> float:
    """Seconds from a Go-style duration ('5s', '500ms', '1m') or a plain number of seconds."""
    t = text.strip()
    number, factor = t, 1.0
    for suffix, unit in _UNITS:
        if t.endswith(suffix):
            number, factor = t[: -len(suffix)], unit
            break
    try:
        value = float(number) * factor
    except ValueError:
        raise UsageError(f"--interval {text!r} is not a duration such as 5s, 500ms or 1m") from None
    if value <= 0:
        raise UsageError(f"--interval {text!r} must be positive")
    return value


def _emit(kind: str, cid: str, data: object | None = None) -> None:
    import json
    import sys

    event: dict[str, object] = {"type": kind, "id": cid}
    if data is not None:
        event["data"] = data
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    import time

    from pallet.errors import StateError
    from pallet.runtime.container import Container

    cid = container_id(args, "events")
    root: str = g.root  # type: ignore[attr-defined]
    interval = parse_interval(str(opts["interval"]))
    c = Container.load(root, cid)
    if c.status() in ("stopped", "creating"):
        raise StateError(f"container {cid!r} is not running")
    cg = c.cgroup()
    if cg is None:
        raise StateError(f"container {cid!r} has no cgroup")
    if opts["stats"]:
        _emit("stats", cid, cg.stats().to_runc())  # type: ignore[attr-defined]
        return 0
    ooms = cg.oom_kill_count()  # type: ignore[attr-defined]
    next_stats = time.monotonic()
    try:
        while c.alive():
            now = time.monotonic()
            count = cg.oom_kill_count()  # type: ignore[attr-defined]
            if count > ooms:
                ooms = count
                _emit("oom", cid)
            if now >= next_stats:
                _emit("stats", cid, cg.stats().to_runc())  # type: ignore[attr-defined]
                next_stats = now + interval
            time.sleep(min(0.1, max(0.0, next_stats - time.monotonic())) or 0.01)
        count = cg.oom_kill_count()  # type: ignore[attr-defined]
        if count > ooms:
            _emit("oom", cid)
    except BrokenPipeError:
        return 0
    return 0
