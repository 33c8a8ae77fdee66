"""pallet-runtime update: change the resource limits of a created, running or paused container.

Limits come from runc's flags or from ``-r resources.json`` (linux.resources of the OCI spec; "-"
reads standard input); flags given with -r override the file.  The new limits are checked against
the host first (nothing is written if one is wrong), then written to the cgroup, then saved in the
container's state.
"""

from __future__ import annotations

from pallet.runtime.cliparse import Option, UsageError
from pallet.runtime.commands._common import container_id

USAGE = "pallet-runtime update [command options] <container-id>"


def _o(name: str, help: str, *more: str) -> Option:
    return Option(name, *more, value=True, default="", help=help)


OPTIONS = (
    _o("--resources", "path to a file with linux.resources as JSON ('-' for standard input)", "-r"),
    _o("--blkio-weight", "block I/O weight, from 10 to 1000"),
    _o("--cpu-period", "CPU CFS period in microseconds"),
    _o("--cpu-quota", "CPU CFS quota in microseconds per period (-1: unlimited)"),
    _o("--cpu-share", "CPU shares (relative weight)", "--cpu-shares"),
    _o("--cpu-rt-period", "CPU real-time period in microseconds"),
    _o("--cpu-rt-runtime", "CPU real-time runtime in microseconds per period"),
    _o("--cpuset-cpus", "CPUs to use (0-3, 0,1)"),
    _o("--cpuset-mems", "memory nodes to use (0-3, 0,1)"),
    _o("--kernel-memory", "kernel memory limit (ignored: the kernel no longer has it)"),
    _o("--kernel-memory-tcp", "kernel TCP buffer limit (ignored: the kernel no longer has it)"),
    _o("--memory", "memory limit in bytes (suffixes k, m, g; -1: unlimited)"),
    _o("--memory-reservation", "memory soft limit in bytes"),
    _o("--memory-swap", "memory plus swap limit in bytes (-1: unlimited swap)"),
    _o("--pids-limit", "maximum number of processes (-1: unlimited)"),
    _o("--l3-cache-schema", "Intel RDT L3 cache schema (not supported)"),
    _o("--mem-bw-schema", "Intel RDT memory bandwidth schema (not supported)"),
)

_UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(flag: str, text: str) -> int:
    """Bytes from '1048576', '64m', '1.5g', '512MiB' or '-1'."""
    t = text.strip().lower()
    if t == "-1":
        return -1
    for suffix in ("ib", "b"):
        if t.endswith(suffix) and len(t) > len(suffix) and t[-len(suffix) - 1] in "kmgt":
            t = t[: -len(suffix)]
            break
    factor = 1
    if t and t[-1] in _UNITS:
        factor = _UNITS[t[-1]]
        t = t[:-1]
    try:
        value = float(t) if "." in t else int(t)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a size: bytes, or a number with k, m, g or t, or -1") from None
    if value < 0:
        raise UsageError(f"{flag} {text!r} must not be negative (except -1 for unlimited)")
    return int(value * factor)


def parse_int(flag: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not an integer") from None


def resources_from(opts: dict[str, object]) -> dict[str, object]:
    """linux.resources from -r and the flags."""
    import json
    import sys

    res: dict[str, object] = {}
    path = str(opts["resources"])
    if path:
        try:
            text = sys.stdin.read() if path == "-" else open(path).read()
            loaded = json.loads(text)
        except OSError as e:
            raise UsageError(f"--resources {path!r}: cannot read it: {e.strerror}") from None
        except ValueError as e:
            raise UsageError(f"--resources {path!r} is not valid JSON: {e}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"--resources {path!r} must hold a JSON object (linux.resources)")
        res = loaded

    def section(name: str) -> dict[str, object]:
        s = res.setdefault(name, {})
        if not isinstance(s, dict):
            raise UsageError(f"--resources: {name} must be an object")
        return s

    sizes = (("memory", "limit", "--memory"), ("memory_reservation", "reservation", "--memory-reservation"),
             ("memory_swap", "swap", "--memory-swap"), ("kernel_memory", "kernel", "--kernel-memory"),
             ("kernel_memory_tcp", "kernelTCP", "--kernel-memory-tcp"))
    for dest, key, flag in sizes:
        if opts[dest]:
            section("memory")[key] = parse_size(flag, str(opts[dest]))
    ints = (("cpu_period", "period", "--cpu-period"), ("cpu_quota", "quota", "--cpu-quota"),
            ("cpu_share", "shares", "--cpu-share"), ("cpu_rt_period", "realtimePeriod", "--cpu-rt-period"),
            ("cpu_rt_runtime", "realtimeRuntime", "--cpu-rt-runtime"))
    for dest, key, flag in ints:
        if opts[dest]:
            section("cpu")[key] = parse_int(flag, str(opts[dest]))
    if opts["cpuset_cpus"]:
        section("cpu")["cpus"] = str(opts["cpuset_cpus"])
    if opts["cpuset_mems"]:
        section("cpu")["mems"] = str(opts["cpuset_mems"])
    if opts["pids_limit"]:
        section("pids")["limit"] = parse_int("--pids-limit", str(opts["pids_limit"]))
    if opts["blkio_weight"]:
        section("blockIO")["weight"] = parse_int("--blkio-weight", str(opts["blkio_weight"]))
    if opts["l3_cache_schema"] or opts["mem_bw_schema"]:
        raise UsageError("--l3-cache-schema and --mem-bw-schema (Intel RDT) are not supported")
    return res


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    from pallet.runtime.control import update_resources

    cid = container_id(args, "update")
    root: str = g.root  # type: ignore[attr-defined]
    resources = resources_from(opts)
    if not resources:
        raise UsageError("'update' needs at least one limit: a flag or --resources (see 'pallet-runtime update --help')")
    if "devices" in resources:
        from pallet.runtime import log

        log.warning("update: linux.resources.devices is ignored: device rules are fixed when the container is created")
        del resources["devices"]
    update_resources(root, cid, resources)
    return 0
