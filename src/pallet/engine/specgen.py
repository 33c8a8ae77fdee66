"""specgen: a container record (docker's Config + HostConfig) -> the OCI config.json of its bundle.

The record already holds the merged image and user settings (Entrypoint, Cmd, Env, WorkingDir, User
were resolved at create time); this module turns them into the runtime spec: process, mounts,
namespaces, linux.resources, devices, capabilities, masked paths.  It runs nothing from the image:
a user name is looked up by reading the image's /etc/passwd and /etc/group confined to the rootfs.
"""

from __future__ import annotations

import os

from pallet.errors import ConfigError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _base_mounts(hc: dict) -> list[dict]:  # type: ignore[type-arg]
    shm = int(hc.get("ShmSize") or 64 * 1024 * 1024)
    ro_sys = [] if hc.get("Privileged") else ["ro"]
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", *ro_sys]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", *ro_sys]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm}"]},
    ]


def read_in_root(rootfs: str, path: str, limit: int = 1 << 20) -> str | None:
    """The text of ``path`` inside ``rootfs``, following symlinks only within it; None if absent."""
    import stat

    from pallet._linux.openat2 import open_in_root

    try:
        root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fd = open_in_root(root_fd, path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    finally:
        os.close(root_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit).decode(errors="replace")
    finally:
        os.close(fd)


def resolve_user(rootfs: str, user: str) -> dict:  # type: ignore[type-arg]
    """docker's -u: ``name|uid[:group|gid]`` -> OCI process.user, looked up in the image's files."""
    if not user:
        user = "0"
    name, _, group = user.partition(":")
    passwd = read_in_root(rootfs, "/etc/passwd") or ""
    groups = read_in_root(rootfs, "/etc/group") or ""
    uid = gid = None
    username = ""
    for line in passwd.splitlines():
        f = line.split(":")
        if len(f) >= 4 and (f[0] == name or (name.isdigit() and f[2] == name)):
            username, uid, gid = f[0], int(f[2]), int(f[3])
            break
    if uid is None:
        if not name.isdigit():
            raise ConfigError(f"unable to find user {name}: no matching entries in passwd file (from --user {user!r})")
        uid, gid = int(name), 0
    if group:
        gid = None
        for line in groups.splitlines():
            f = line.split(":")
            if len(f) >= 3 and (f[0] == group or (group.isdigit() and f[2] == group)):
                gid = int(f[2])
                break
        if gid is None:
            if not group.isdigit():
                raise ConfigError(f"unable to find group {group}: no matching entries in group file (from --user {user!r})")
            gid = int(group)
    extra: list[int] = []
    if username:
        for line in groups.splitlines():
            f = line.split(":")
            if len(f) >= 4 and username in f[3].split(",") and f[2].isdigit() and int(f[2]) != gid:
                extra.append(int(f[2]))
    out: dict = {"uid": uid, "gid": gid or 0}  # type: ignore[type-arg]
    if extra:
        out["additionalGids"] = extra
    return out


def _device_numbers(path: str, flag: str) -> tuple[int, int, str]:
    import stat

    try:
        st = os.stat(path)
    except OSError as e:
        raise ConfigError(f"invalid {flag} device {path!r}: {e.strerror}") from None
    if stat.S_ISBLK(st.st_mode):
        kind = "b"
    elif stat.S_ISCHR(st.st_mode):
        kind = "c"
    else:
        raise ConfigError(f"invalid {flag} device {path!r}: not a device node")
    return os.major(st.st_rdev), os.minor(st.st_rdev), kind


def resources(hc: dict) -> dict:  # type: ignore[type-arg]
    """docker's resource fields of HostConfig -> OCI linux.resources."""
    res: dict = {}  # type: ignore[type-arg]
    mem: dict = {}  # type: ignore[type-arg]
    if hc.get("Memory"):
        mem["limit"] = int(hc["Memory"])
    if hc.get("MemorySwap"):
        mem["swap"] = int(hc["MemorySwap"])
    elif hc.get("Memory"):
        mem["swap"] = 2 * int(hc["Memory"])  # docker: swap defaults to twice the memory limit
    if hc.get("MemoryReservation"):
        mem["reservation"] = int(hc["MemoryReservation"])
    if hc.get("OomKillDisable"):
        mem["disableOOMKiller"] = True
    if mem:
        res["memory"] = mem
    cpu: dict = {}  # type: ignore[type-arg]
    if hc.get("CpuShares"):
        cpu["shares"] = int(hc["CpuShares"])
    if hc.get("NanoCpus"):
        cpu["period"] = 100000
        cpu["quota"] = int(hc["NanoCpus"]) * 100000 // 1_000_000_000
    if hc.get("CpuPeriod"):
        cpu["period"] = int(hc["CpuPeriod"])
    if hc.get("CpuQuota"):
        cpu["quota"] = int(hc["CpuQuota"])
    if hc.get("CpusetCpus"):
        cpu["cpus"] = hc["CpusetCpus"]
    if hc.get("CpusetMems"):
        cpu["mems"] = hc["CpusetMems"]
    if cpu:
        res["cpu"] = cpu
    if hc.get("PidsLimit"):
        res["pids"] = {"limit": int(hc["PidsLimit"])}
    blkio: dict = {}  # type: ignore[type-arg]
    if hc.get("BlkioWeight"):
        blkio["weight"] = int(hc["BlkioWeight"])
    for field, key, flag in (
        ("BlkioDeviceReadBps", "throttleReadBpsDevice", "--device-read-bps"),
        ("BlkioDeviceWriteBps", "throttleWriteBpsDevice", "--device-write-bps"),
        ("BlkioDeviceReadIOps", "throttleReadIOPSDevice", "--device-read-iops"),
        ("BlkioDeviceWriteIOps", "throttleWriteIOPSDevice", "--device-write-iops"),
    ):
        for entry in hc.get(field) or []:
            major, minor, kind = _device_numbers(entry["Path"], flag)
            if kind != "b":
                raise ConfigError(f"invalid {flag} device {entry['Path']!r}: not a block device")
            blkio.setdefault(key, []).append({"major": major, "minor": minor, "rate": int(entry["Rate"])})
    if blkio:
        res["blockIO"] = blkio
    devices: list[dict] = [{"allow": False, "access": "rwm"}]  # type: ignore[type-arg]
    if hc.get("Privileged"):
        devices = [{"allow": True, "access": "rwm"}]
    for dev in hc.get("Devices") or []:
        major, minor, kind = _device_numbers(dev["PathOnHost"], "--device")
        devices.append({"allow": True, "type": kind, "major": major, "minor": minor,
                        "access": dev.get("CgroupPermissions") or "rwm"})
    for rule in hc.get("DeviceCgroupRules") or []:
        devices.append(parse_cgroup_rule(rule))
    res["devices"] = devices
    return res


def parse_cgroup_rule(rule: str) -> dict:  # type: ignore[type-arg]
    """docker's --device-cgroup-rule 'c 1:3 mr' -> an OCI device rule."""
    fields = rule.split()
    bad = ConfigError(f"invalid --device-cgroup-rule {rule!r}: expected 'TYPE MAJOR:MINOR ACCESS' "
                      "(TYPE a, b or c; MAJOR and MINOR numbers or *; ACCESS of r, w, m)")
    if len(fields) != 3 or fields[0] not in ("a", "b", "c") or not set(fields[2]) <= set("rwm"):
        raise bad
    major, sep, minor = fields[1].partition(":")
    if not sep:
        raise bad
    out: dict = {"allow": True, "type": fields[0], "access": fields[2]}  # type: ignore[type-arg]
    for key, value in (("major", major), ("minor", minor)):
        if value != "*":
            if not value.isdigit():
                raise bad
            out[key] = int(value)
    return out


def _volume_mounts(record: dict, volumes_dir: str) -> list[dict]:  # type: ignore[type-arg]
    out: list[dict] = []  # type: ignore[type-arg]
    for m in record.get("Mounts") or []:
        if m["Type"] == "volume":
            source = os.path.join(volumes_dir, m["Name"], "_data")
        else:
            source = m["Source"]
        opts = ["rbind", "rw" if m.get("RW", True) else "ro"]
        if m.get("Propagation"):
            opts.append(m["Propagation"])
        out.append({"destination": m["Destination"], "type": "bind", "source": source, "options": opts})
    for dest, opts in (record["HostConfig"].get("Tmpfs") or {}).items():
        extra = [o for o in opts.split(",") if o] if opts else []
        out.append({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                    "options": ["nosuid", "nodev", "noexec", *extra]})
    return out


def generate(record: dict, rootfs: str, *, cgroups_path: str, container_dir: str,  # type: ignore[type-arg]
             volumes_dir: str, netns: str | None = None, cache_dir: str = "") -> dict:  # type: ignore[type-arg]
    """The OCI config.json for ``record`` with its root filesystem at ``rootfs``; ``cache_dir``
    keeps the resolved default seccomp profile between runs (``security_fields``)."""
    cfg = record["Config"]
    hc = record["HostConfig"]
    args = [record["Path"], *record["Args"]] if record.get("Path") else []
    if not args:
        raise ConfigError("no command specified: the image has no Cmd or Entrypoint; give a command after the image")
    if hc.get("Init"):
        args = [INIT_PATH, "--", *args]
    env = list(cfg.get("Env") or [])
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, "PATH=" + DEFAULT_PATH)
    env.insert(1, f"HOSTNAME={cfg.get('Hostname', '')}")
    if cfg.get("Tty") and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    user = resolve_user(rootfs, cfg.get("User") or "")
    security = security_fields(hc, int(user["uid"]), cache_dir=cache_dir)
    process: dict = {  # type: ignore[type-arg]
        "terminal": bool(cfg.get("Tty")),
        "user": user,
        "args": args,
        "env": env,
        "cwd": cfg.get("WorkingDir") or "/",
        **security["process"],
    }
    if hc.get("OomScoreAdj"):
        process["oomScoreAdj"] = int(hc["OomScoreAdj"])
    rlimits = []
    for u in hc.get("Ulimits") or []:
        rlimits.append({"type": "RLIMIT_" + u["Name"].upper(), "soft": int(u["Soft"]), "hard": int(u["Hard"])})
    if rlimits:
        process["rlimits"] = rlimits
    mounts = _base_mounts(hc)
    for name in ("hosts", "hostname", "resolv.conf"):
        path = os.path.join(container_dir, name)
        if os.path.exists(path):
            # "rw" makes the runtime remount the bind, and so apply "rprivate" to the new mount
            # (pallet.runtime applied propagation of a bind with no remount to the mount below it).
            mounts.append({"destination": "/etc/" + name, "type": "bind", "source": path,
                           "options": ["rbind", "rprivate", "rw"]})
    mounts += _volume_mounts(record, volumes_dir)
    if hc.get("Init"):
        mounts.append({"destination": INIT_PATH, "type": "bind", "source": init_binary(), "options": ["bind", "ro"]})
    namespaces = [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
    mode = hc.get("NetworkMode") or "default"
    if mode != "host":
        namespaces.append({"type": "network", "path": netns} if netns else {"type": "network"})
    linux: dict = {  # type: ignore[type-arg]
        "namespaces": namespaces,
        "cgroupsPath": cgroups_path,
        "resources": resources(hc),
        "sysctl": dict(hc.get("Sysctls") or {}),
    }
    devices = []
    for dev in hc.get("Devices") or []:
        major, minor, kind = _device_numbers(dev["PathOnHost"], "--device")
        st = os.stat(dev["PathOnHost"])
        devices.append({"path": dev.get("PathInContainer") or dev["PathOnHost"], "type": kind, "major": major,
                        "minor": minor, "fileMode": st.st_mode & 0o7777, "uid": 0, "gid": 0})
    if devices:
        linux["devices"] = devices
    linux.update(security["linux"])
    spec = {
        "ociVersion": "1.2.0",
        "process": process,
        "root": {"path": rootfs, "readonly": bool(hc.get("ReadonlyRootfs"))},
        "hostname": cfg.get("Hostname", ""),
        "mounts": mounts,
        "linux": linux,
        "annotations": {"org.pallet.container.id": record["Id"]},
    }
    userns = (record.get("Pallet") or {}).get("Userns")
    if userns:
        from pallet.engine.userns import adjust_spec

        adjust_spec(spec, userns)
    return spec


def security_fields(hc: dict, uid: int = 0,  # type: ignore[type-arg]
                    warnings: list[str] | None = None, cache_dir: str = "") -> dict[str, dict[str, object]]:
    """Capabilities, no_new_privs, seccomp, masked paths and labels from pallet.engine.security;
    what the host cannot apply (an AppArmor profile, an SELinux label) is appended to ``warnings``."""
    from pallet.engine.security.options import parse_security_opts as parse_opts
    from pallet.engine.security.options import security_config

    return security_config(parse_opts(hc.get("SecurityOpt") or []), privileged=bool(hc.get("Privileged")),
                           cap_add=hc.get("CapAdd") or [], cap_drop=hc.get("CapDrop") or [], uid=uid,
                           warnings=warnings, cache_dir=cache_dir)


INIT_PATH = "/sbin/docker-init"
INIT_CANDIDATES = ("/usr/bin/tini-static", "/usr/bin/tini", "/usr/bin/catatonit", "/usr/libexec/podman/catatonit")


def init_binary() -> str:
    """The small init for --init: Debian's tini (static if present) or catatonit."""
    for path in INIT_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    raise ConfigError("--init needs tini or catatonit on the host (scripts/setup installs tini)")
