"""The default config.json that ``pallet-runtime spec`` writes, in substance what ``runc spec`` writes.

The differences from runc 1.1 are those of newer runc: ``ociVersion`` is the spec version pallet
implements, the ambient set is empty (a process does not get capabilities it did not ask to
inherit), a cgroup namespace is created, and /sys/devices/virtual/tpm is masked.  The hostname is
"pallet".  ``--rootless`` gives runc's rootless variant: a user namespace mapping the calling user
to root, no network namespace, /sys bind-mounted from the host, no uid=/gid= mount options and no
cgroup settings.
"""

from __future__ import annotations

import os

from pallet.oci.names import OCI_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.oci.runtime_spec import Mount, Spec

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_CAPABILITIES: tuple[str, ...] = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")
DEFAULT_MASKED_PATHS: tuple[str, ...] = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
    "/sys/devices/virtual/tpm",
)
DEFAULT_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


def default_mounts() -> list[Mount]:
    """The seven mounts of the default spec: /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys, cgroups."""
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ]


def default_spec(rootless: bool = False) -> Spec:
    """A new default config.json document (a fresh dict on every call)."""
    caps = list(DEFAULT_CAPABILITIES)
    spec: Spec = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [f"PATH={DEFAULT_PATH}", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": list(caps), "permitted": list(caps)},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "pallet",
        "mounts": default_mounts(),
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
                {"type": "cgroup"},
            ],
            "maskedPaths": list(DEFAULT_MASKED_PATHS),
            "readonlyPaths": list(DEFAULT_READONLY_PATHS),
        },
    }
    if rootless:
        make_rootless(spec, os.geteuid(), os.getegid())
    return spec


def make_rootless(spec: Spec, uid: int, gid: int) -> None:
    """Turn ``spec`` into runc's rootless variant for the user ``uid``:``gid`` (in place)."""
    linux = spec.setdefault("linux", {})
    kept = [ns for ns in linux.get("namespaces", []) if ns["type"] not in ("network", "user")]
    linux["namespaces"] = [*kept, {"type": "user"}]
    linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
    linux.pop("resources", None)
    mounts: list[Mount] = []
    for mount in spec.get("mounts", []):
        if os.path.normpath(mount["destination"]) == "/sys":
            mounts.append({
                "destination": "/sys",
                "type": "none",
                "source": "/sys",
                "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
            })
            continue
        if "options" in mount:
            mount["options"] = [o for o in mount["options"] if not o.startswith(("uid=", "gid="))]
        mounts.append(mount)
    spec["mounts"] = mounts
