"""The flags of `run` and `create` (and the resource flags of `update`) -> docker's Config and HostConfig.

Every value is parsed here with an error naming the flag and the value; the engine then checks
ranges against the host (pallet.engine.create.check_hostconfig).
"""

from __future__ import annotations

import os

from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def ram_in_bytes(value: str, flag: str) -> int:
    """docker's RAMInBytes: 512, 512k, 64m, 1g, 1.5g (binary units); -1 where docker allows it."""
    text = value.strip().lower()
    if text == "-1":
        return -1
    if text.endswith("ib"):
        text = text[:-2]
    elif text.endswith("b") and len(text) > 1 and text[-2] in "kmgtp":
        text = text[:-1]
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50, "b": 1}
    factor = 1
    if text and text[-1] in mult:
        factor = mult[text[-1]]
        text = text[:-1]
    try:
        num = float(text)
    except ValueError:
        raise ConfigError(f"invalid {flag} {value!r}: expected a size like 512m or 1g") from None
    if num < 0:
        raise ConfigError(f"invalid {flag} {value!r}: a size must not be negative")
    return int(num * factor)


def add_run_flags(p: argparse.ArgumentParser, *, create: bool = True) -> None:
    a = p.add_argument
    if create:
        a("-d", "--detach", action="store_true", help="Run container in background and print container ID")
        a("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
        a("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
        a("--rm", action="store_true", help="Automatically remove the container when it exits")
        a("--name", help="Assign a name to the container")
        a("-h", "--hostname", help="Container host name")
        a("-e", "--env", action="append", default=[], help="Set environment variables")
        a("--env-file", action="append", default=[], help="Read in a file of environment variables")
        a("-w", "--workdir", help="Working directory inside the container")
        a("-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>])")
        a("--entrypoint", help="Overwrite the default ENTRYPOINT of the image")
        a("-v", "--volume", action="append", default=[], help="Bind mount a volume")
        a("--mount", action="append", default=[], help="Attach a filesystem mount to the container")
        a("--tmpfs", action="append", default=[], help="Mount a tmpfs directory")
        a("--read-only", action="store_true", help="Mount the container's root filesystem as read only")
        a("--device", action="append", default=[], help="Add a host device to the container")
        a("--device-cgroup-rule", action="append", default=[], help="Add a rule to the cgroup allowed devices list")
        a("--cap-add", action="append", default=[], help="Add Linux capabilities")
        a("--cap-drop", action="append", default=[], help="Drop Linux capabilities")
        a("--privileged", action="store_true", help="Give extended privileges to this container")
        a("--security-opt", action="append", default=[], help="Security Options")
        a("--userns", help="User namespace to use")
        a("--userns-remap", metavar="SPEC", help="Run in a user namespace mapped from the subordinate ids: "
          "'default', user[:group] or C:H:N[,C:H:N] (default: the store's 'userns-remap')")
        a("--ulimit", action="append", default=[], help="Ulimit options")
        a("--sysctl", action="append", default=[], help="Sysctl options")
        a("--oom-kill-disable", action="store_true", help="Disable OOM Killer")
        a("--oom-score-adj", type=int, help="Tune host's OOM preferences (-1000 to 1000)")
        a("--init", action="store_true", help="Run an init inside the container that forwards signals and reaps processes")
        a("--stop-signal", help="Signal to stop the container")
        a("--stop-timeout", type=int, help="Timeout (in seconds) to stop a container")
        a("-l", "--label", action="append", default=[], help="Set meta data on a container")
        a("--log-driver", help="Logging driver for the container (json-file, none)")
        a("--log-opt", action="append", default=[], help="Log driver options")
        a("--runtime", help="Runtime to use for this container (pallet, runc, crun or a path)")
        a("--cgroup-parent", help="Optional parent cgroup for the container")
        a("--shm-size", help="Size of /dev/shm")
        a("--network", "--net", dest="network", help="Connect a container to a network")
        a("-p", "--publish", action="append", default=[], help="Publish a container's port(s) to the host")
        a("-P", "--publish-all", action="store_true", help="Publish all exposed ports to random ports")
        a("--dns", action="append", default=[], help="Set custom DNS servers")
        a("--dns-search", action="append", default=[], help="Set custom DNS search domains")
        a("--dns-option", action="append", default=[], help="Set DNS options")
        a("--add-host", action="append", default=[], help="Add a custom host-to-IP mapping (host:ip)")
        a("--ip", help="IPv4 address (e.g., 172.30.100.104)")
        a("--mac-address", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)")
        a("--network-alias", action="append", default=[], help="Add network-scoped alias for the container")
        a("--expose", action="append", default=[], help="Expose a port or a range of ports")
    a("--restart", help="Restart policy to apply when a container exits")
    a("-m", "--memory", help="Memory limit")
    a("--memory-swap", help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    a("--memory-reservation", help="Memory soft limit")
    a("--cpus", help="Number of CPUs")
    a("-c", "--cpu-shares", type=int, help="CPU shares (relative weight)")
    a("--cpu-period", type=int, help="Limit CPU CFS (Completely Fair Scheduler) period")
    a("--cpu-quota", type=int, help="Limit CPU CFS (Completely Fair Scheduler) quota")
    a("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    a("--cpuset-mems", help="MEMs in which to allow execution (0-3, 0,1)")
    a("--pids-limit", type=int, help="Tune container pids limit (set -1 for unlimited)")
    a("--blkio-weight", type=int, help="Block IO (relative weight), between 10 and 1000, or 0 to disable")
    a("--device-read-bps", action="append", default=[], help="Limit read rate (bytes per second) from a device")
    a("--device-write-bps", action="append", default=[], help="Limit write rate (bytes per second) to a device")
    a("--device-read-iops", action="append", default=[], help="Limit read rate (IO per second) from a device")
    a("--device-write-iops", action="append", default=[], help="Limit write rate (IO per second) to a device")


def _kv(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, _sep, value = item.partition("=")
        if not key:
            raise ConfigError(f"invalid {flag} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def _rates(items: list[str], flag: str, size: bool) -> list[dict[str, Any]]:
    out = []
    for item in items:
        path, sep, rate = item.rpartition(":")
        if not sep or not path.startswith("/"):
            raise ConfigError(f"invalid {flag} {item!r}: expected <device-path>:<rate>, e.g. /dev/sda:1mb")
        if size:
            value = ram_in_bytes(rate, flag)
        else:
            if not rate.isdigit():
                raise ConfigError(f"invalid {flag} {item!r}: the rate must be a positive integer")
            value = int(rate)
        out.append({"Path": path, "Rate": value})
    return out


def resource_fields(args: argparse.Namespace) -> dict[str, Any]:
    hc: dict[str, Any] = {}
    if args.memory is not None:
        hc["Memory"] = ram_in_bytes(args.memory, "--memory") if not args.memory.strip().startswith("-") else _negative("--memory", args.memory)
    if args.memory_swap is not None:
        hc["MemorySwap"] = ram_in_bytes(args.memory_swap, "--memory-swap")
    if args.memory_reservation is not None:
        hc["MemoryReservation"] = ram_in_bytes(args.memory_reservation, "--memory-reservation")
    if args.cpus is not None:
        try:
            cpus = float(args.cpus)
        except ValueError:
            raise ConfigError(f"invalid --cpus {args.cpus!r}: expected a number like 1.5") from None
        if cpus < 0:
            raise ConfigError(f"invalid --cpus {args.cpus!r}: must not be negative")
        hc["NanoCpus"] = int(cpus * 1e9)
    for flag, field in (("cpu_shares", "CpuShares"), ("cpu_period", "CpuPeriod"), ("cpu_quota", "CpuQuota"),
                        ("pids_limit", "PidsLimit"), ("blkio_weight", "BlkioWeight")):
        if getattr(args, flag) is not None:
            hc[field] = getattr(args, flag)
    if args.cpuset_cpus is not None:
        hc["CpusetCpus"] = args.cpuset_cpus
    if args.cpuset_mems is not None:
        hc["CpusetMems"] = args.cpuset_mems
    for flag, field, size in (("device_read_bps", "BlkioDeviceReadBps", True),
                              ("device_write_bps", "BlkioDeviceWriteBps", True),
                              ("device_read_iops", "BlkioDeviceReadIOps", False),
                              ("device_write_iops", "BlkioDeviceWriteIOps", False)):
        if getattr(args, flag):
            hc[field] = _rates(getattr(args, flag), "--" + flag.replace("_", "-"), size)
    if args.restart is not None:
        hc["RestartPolicy"] = parse_restart(args.restart)
    return hc


def _port_bindings(specs: list[str]) -> dict[str, Any]:
    if not specs:
        return {}
    from pallet.engine.networking import port_bindings

    return port_bindings(specs)


def _negative(flag: str, value: str) -> int:
    raise ConfigError(f"invalid {flag} {value!r}: a memory limit must not be negative")


def parse_restart(value: str) -> dict[str, Any]:
    name, sep, count = value.partition(":")
    if name not in ("no", "always", "unless-stopped", "on-failure") or (sep and (name != "on-failure" or not count.isdigit())):
        raise ConfigError(f"invalid --restart policy {value!r} (allowed: no, always, unless-stopped, on-failure[:max-retries])")
    return {"Name": name, "MaximumRetryCount": int(count) if count else 0}


def _env_files(paths: list[str]) -> list[str]:
    out = []
    for path in paths:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise ConfigError(f"invalid --env-file {path!r}: {e.strerror}") from None
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                line = f"{line}={os.environ.get(line, '')}" if line in os.environ else ""
            if line:
                out.append(line)
    return out


def _volumes(args: argparse.Namespace) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = []
    for spec in args.volume:
        parts = spec.split(":")
        if len(parts) == 1:
            dest, source, mode = parts[0], "", ""
        elif len(parts) == 2:
            source, dest, mode = parts[0], parts[1], ""
        elif len(parts) == 3:
            source, dest, mode = parts
        else:
            raise ConfigError(f"invalid -v/--volume spec {spec!r}: expected [SOURCE:]DEST[:ro|rw]")
        _check_dest(dest, spec, "-v/--volume")
        if mode and any(m not in ("ro", "rw", "z", "Z", "rprivate", "private", "rshared", "shared", "rslave", "slave")
                        for m in mode.split(",")):
            raise ConfigError(f"invalid -v/--volume spec {spec!r}: invalid mode {mode!r} (allowed: ro, rw, propagation)")
        rw = "ro" not in mode.split(",")
        prop = next((m for m in mode.split(",") if "private" in m or "shared" in m or "slave" in m), "")
        mounts.append(_mount_entry(source, dest, rw, prop, spec))
    for spec in args.mount:
        fields = _kv([f for f in spec.split(",") if f], "--mount")
        kind = fields.get("type", "volume")
        dest = fields.get("destination") or fields.get("target") or fields.get("dst") or ""
        source = fields.get("source") or fields.get("src") or ""
        rw = not ("readonly" in fields or "ro" in fields) or fields.get("readonly") == "false"
        if kind not in ("bind", "volume", "tmpfs"):
            raise ConfigError(f"invalid --mount {spec!r}: type must be bind, volume or tmpfs")
        _check_dest(dest, spec, "--mount")
        if kind == "tmpfs":
            args.tmpfs.append(dest + (":size=" + fields["tmpfs-size"] if "tmpfs-size" in fields else ""))
            continue
        if kind == "bind" and not source.startswith("/"):
            raise ConfigError(f"invalid --mount {spec!r}: a bind mount needs an absolute source path")
        mounts.append(_mount_entry(source, dest, rw, fields.get("bind-propagation", ""), spec))
    return mounts


def _check_dest(dest: str, spec: str, flag: str) -> None:
    if not dest.startswith("/") or "//" in dest or dest == "/" or any(p in (".", "..") for p in dest.split("/")):
        raise ConfigError(f"invalid {flag} spec {spec!r}: destination {dest!r} must be a clean absolute path, not '/'")


def _mount_entry(source: str, dest: str, rw: bool, prop: str, spec: str) -> dict[str, Any]:
    import secrets

    if source.startswith("/") or source.startswith("."):
        source = os.path.abspath(source)
        if not os.path.exists(source):
            raise ConfigError(f"invalid mount {spec!r}: bind source path does not exist: {source}")
        return {"Type": "bind", "Source": source, "Destination": dest, "Mode": "", "RW": rw,
                "Propagation": prop or "rprivate"}
    anonymous = not source
    name = source or secrets.token_hex(32)
    if not anonymous and (len(name) < 2 or not all(c.isalnum() or c in "_.-" for c in name)):
        raise ConfigError(f"invalid volume name {name!r} in {spec!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return {"Type": "volume", "Name": name, "Source": "", "Destination": dest, "Driver": "local", "Mode": "z",
            "RW": rw, "Propagation": "", "Anonymous": anonymous}


def build(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Config, HostConfig) from the flags of run/create, as docker's CLI builds them."""
    env = _env_files(args.env_file)
    for item in args.env:
        if "=" not in item:
            if item in os.environ:
                env.append(f"{item}={os.environ[item]}")
            continue
        if item.startswith("="):
            raise ConfigError(f"invalid -e/--env {item!r}: the variable name is empty")
        env.append(item)
    config: dict[str, Any] = {
        "Hostname": args.hostname or "",
        "Domainname": "",
        "User": args.user or "",
        "AttachStdin": bool(args.interactive and not args.detach),
        "AttachStdout": not args.detach,
        "AttachStderr": not args.detach,
        "Tty": bool(args.tty),
        "OpenStdin": bool(args.interactive),
        "StdinOnce": bool(args.interactive and not args.detach),
        "Env": env,
        "Cmd": list(args.command) or None,
        "Image": args.image,
        "Volumes": None,
        "WorkingDir": args.workdir or "",
        "Entrypoint": None if args.entrypoint is None else ([args.entrypoint] if args.entrypoint else []),
        "OnBuild": None,
        "Labels": _kv(args.label, "--label"),
    }
    if args.stop_signal:
        from pallet.engine.service import parse_signal

        parse_signal(args.stop_signal, "--stop-signal")
        config["StopSignal"] = args.stop_signal
    if args.stop_timeout is not None:
        config["StopTimeout"] = args.stop_timeout
    if args.expose:
        from pallet.network.ports import parse_expose

        config["ExposedPorts"] = {key: {} for p in args.expose for key in parse_expose(p)}
    if args.network or args.ip or args.mac_address or args.network_alias:
        from pallet.engine.networking import endpoint_config

        config["_NetworkingConfig"] = {"EndpointsConfig": {args.network or "default": endpoint_config(
            args.network_alias, args.ip or "", args.mac_address or "")}}
    mounts = _volumes(args)
    config["_Mounts"] = mounts
    if args.userns_remap is not None:
        if not args.userns_remap:
            raise ConfigError("invalid --userns-remap '': expected 'default', user[:group] or C:H:N[,C:H:N...]")
        config["_UsernsRemap"] = args.userns_remap
    if mounts:
        config["Volumes"] = {m["Destination"]: {} for m in mounts if m["Type"] == "volume"} or None
    tmpfs = {}
    for item in args.tmpfs:
        dest, _, opts = item.partition(":")
        _check_dest(dest, item, "--tmpfs")
        tmpfs[dest] = opts
    ulimits = []
    for item in args.ulimit:
        name, sep, values = item.partition("=")
        soft, _, hard = values.partition(":")
        hard = hard or soft
        if not sep or not soft.lstrip("-").isdigit() or not hard.lstrip("-").isdigit() or name not in _ULIMITS:
            raise ConfigError(f"invalid --ulimit {item!r}: expected <type>=<soft>[:<hard>] with type one of "
                              f"{', '.join(sorted(_ULIMITS))}")
        if int(soft) > int(hard):
            raise ConfigError(f"invalid --ulimit {item!r}: soft limit {soft} is above the hard limit {hard}")
        ulimits.append({"Name": name, "Soft": int(soft), "Hard": int(hard)})
    devices = []
    for item in args.device:
        parts = item.split(":")
        host = parts[0]
        inside = parts[1] if len(parts) > 1 and parts[1].startswith("/") else host
        perms = parts[-1] if len(parts) > 1 and not parts[-1].startswith("/") else "rwm"
        devices.append({"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": perms})
    log_opts = _kv(args.log_opt, "--log-opt")
    hc: dict[str, Any] = {
        "Binds": [v for v in args.volume if ":" in v] or None,
        "LogConfig": {"Type": args.log_driver or "json-file", "Config": log_opts},
        "NetworkMode": args.network or "default",
        "PortBindings": _port_bindings(args.publish),
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": bool(args.rm),
        "CapAdd": args.cap_add or None,
        "CapDrop": args.cap_drop or None,
        "Dns": args.dns,
        "DnsOptions": args.dns_option,
        "DnsSearch": args.dns_search,
        "ExtraHosts": args.add_host or None,
        "OomScoreAdj": args.oom_score_adj or 0,
        "Privileged": bool(args.privileged),
        "PublishAllPorts": bool(args.publish_all),
        "ReadonlyRootfs": bool(args.read_only),
        "SecurityOpt": args.security_opt or None,
        "Tmpfs": tmpfs or None,
        "UsernsMode": args.userns or "",
        "ShmSize": ram_in_bytes(args.shm_size, "--shm-size") if args.shm_size else 64 * 1024 * 1024,
        "Sysctls": _kv(args.sysctl, "--sysctl") or None,
        "Runtime": args.runtime or "",
        "CgroupParent": args.cgroup_parent or "",
        "Devices": devices,
        "DeviceCgroupRules": args.device_cgroup_rule or None,
        "OomKillDisable": bool(args.oom_kill_disable),
        "Init": bool(args.init),
        "Ulimits": ulimits or None,
        "Memory": 0, "MemorySwap": 0, "MemoryReservation": 0, "NanoCpus": 0, "CpuShares": 0, "CpuPeriod": 0,
        "CpuQuota": 0, "CpusetCpus": "", "CpusetMems": "", "PidsLimit": None, "BlkioWeight": 0,
    }
    for item in args.add_host:
        name, sep, addr = item.partition(":")
        if not sep or not name or not addr:
            raise ConfigError(f"invalid --add-host {item!r}: expected host:ip")
    hc.update(resource_fields(args))
    return config, hc


_ULIMITS = {"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
            "rtprio", "rttime", "sigpending", "stack", "as"}
