"""The runtime-spec "features" document: what this runtime implements, on this host.

``pallet-runtime features`` prints :func:`features`.  The vocabularies come from the same tables
the validator and the mount code read (:mod:`pallet.oci.names`, :mod:`pallet.oci.mountopts`), so
the document cannot claim what pallet would refuse.  Where support depends on the host (a
namespace type the kernel lacks, libseccomp missing, an LSM not enabled, a kernel without
mount_setattr), the document says what this host gives.
"""

from __future__ import annotations

import os

from pallet.oci.mountopts import known_mount_options
from pallet.oci.names import (
    HOOK_NAMES,
    NAMESPACE_TYPES,
    OCI_VERSION,
    SECCOMP_ACTIONS,
    SECCOMP_ARCHS,
    SECCOMP_FLAGS,
    SECCOMP_OPERATORS,
)

OCI_VERSION_MIN = "1.0.0"

# Seccomp filter flags and the kernel version that brought each.
_SECCOMP_FLAG_KERNELS: dict[str, tuple[int, int]] = {
    "SECCOMP_FILTER_FLAG_TSYNC": (3, 17),
    "SECCOMP_FILTER_FLAG_LOG": (4, 14),
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": (4, 17),
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": (5, 19),
}
_MOUNT_SETATTR_KERNEL = (5, 12)


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """(major, minor) of the running kernel (or of a ``uname -r`` string)."""
    text = release if release is not None else os.uname().release
    numbers: list[int] = []
    for part in text.split(".")[:2]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            return (0, 0)
        numbers.append(int(digits))
    return (numbers[0], numbers[1]) if len(numbers) == 2 else (0, 0)


def host_namespaces(proc: str = "/proc") -> list[str]:
    """The namespace types this kernel has (those with an entry under /proc/self/ns)."""
    from pallet._linux.consts import NAMESPACES

    return [kind for kind in NAMESPACE_TYPES if os.path.exists(f"{proc}/self/ns/{NAMESPACES[kind][1]}")]


def _seccomp(kernel: tuple[int, int]) -> tuple[dict[str, object], str | None]:
    """The seccomp part of the document, and libseccomp's version (None when it cannot be loaded)."""
    try:
        from pallet._linux import seccomp as libseccomp

        major, minor, micro = libseccomp.version()
        archs = [a for a in SECCOMP_ARCHS if libseccomp.arch_resolve(a[len("SCMP_ARCH_"):].lower())]
    except (ImportError, OSError, AttributeError):
        return {"enabled": False}, None
    supported = [flag for flag in SECCOMP_FLAGS if kernel >= _SECCOMP_FLAG_KERNELS[flag]]
    part: dict[str, object] = {
        "enabled": True,
        "actions": list(SECCOMP_ACTIONS),
        "operators": list(SECCOMP_OPERATORS),
        "archs": archs,
        "knownFlags": list(SECCOMP_FLAGS),
        "supportedFlags": supported,
    }
    return part, f"{major}.{minor}.{micro}"


def features(*, sysfs: str = "/sys", proc: str = "/proc") -> dict[str, object]:
    """The features document of pallet's runtime on this host."""
    from pallet import __version__
    from pallet._linux.caps import CAP_NAMES

    kernel = kernel_version()
    seccomp, libseccomp_version = _seccomp(kernel)
    annotations = {"org.pallet.runtime.version": __version__}
    if libseccomp_version is not None:
        annotations["io.github.seccomp.libseccomp.version"] = libseccomp_version
    apparmor = False
    try:
        with open(os.path.join(sysfs, "module/apparmor/parameters/enabled")) as f:
            apparmor = f.read().strip().upper().startswith("Y")
    except OSError:
        pass
    return {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION,
        "hooks": list(HOOK_NAMES),
        "mountOptions": known_mount_options(),
        "linux": {
            "namespaces": host_namespaces(proc),
            "capabilities": list(CAP_NAMES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": False},
            "seccomp": seccomp,
            "apparmor": {"enabled": apparmor},
            "selinux": {"enabled": os.path.exists(os.path.join(sysfs, "fs/selinux/enforce"))},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": kernel >= _MOUNT_SETATTR_KERNEL}},
            "netDevices": {"enabled": False},
        },
        "annotations": annotations,
        "potentiallyUnsafeConfigAnnotations": [],
    }
