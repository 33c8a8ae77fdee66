"""AppArmor and SELinux labels of an OCI config: process.apparmorProfile, process.selinuxLabel,
linux.mountLabel.

A label is applied only when the host has that LSM enabled; when it has not, ``check_labels``
refuses the config with an error that names the field and the value (the engine, like docker,
does not put a label into the config in the first place on such a host).

Detection, from the filesystem only: AppArmor is enabled when
``/sys/module/apparmor/parameters/enabled`` reads ``Y``; SELinux when selinuxfs is mounted
(``/sys/fs/selinux/enforce`` exists).  Both root paths are parameters so that tests can use a fake
tree.
"""

from __future__ import annotations

import os

from pallet.errors import RuntimeFailure, UnsupportedError, ValidationError


def apparmor_enabled(sysfs: str = "/sys") -> bool:
    try:
        with open(os.path.join(sysfs, "module/apparmor/parameters/enabled")) as f:
            return f.read().strip().upper().startswith("Y")
    except OSError:
        return False


def selinux_enabled(sysfs: str = "/sys") -> bool:
    return os.path.exists(os.path.join(sysfs, "fs/selinux/enforce"))


def _string(obj: dict[str, object], key: str, path: str) -> str:
    value = obj.get(key) or ""
    if not isinstance(value, str):
        raise ValidationError(f"{path}.{key}", f"must be a string, got {value!r}")
    return value


def check_labels(process: dict[str, object], linux: dict[str, object], sysfs: str = "/sys") -> None:
    """Refuse labels this host cannot apply: a clear error naming the field, its value and why."""
    profile = _string(process, "apparmorProfile", "process")
    if profile and not apparmor_enabled(sysfs):
        raise UnsupportedError(
            f"process.apparmorProfile {profile!r} is set, but AppArmor is not enabled on this host "
            f"({sysfs}/module/apparmor/parameters/enabled is not 'Y'): remove the profile from the config"
        )
    for obj, key, where in ((process, "selinuxLabel", "process"), (linux, "mountLabel", "linux")):
        label = _string(obj, key, where)
        if not label:
            continue
        if not selinux_enabled(sysfs):
            raise UnsupportedError(
                f"{where}.{key} {label!r} is set, but SELinux is not enabled on this host "
                f"(no selinuxfs at {sysfs}/fs/selinux): remove the label from the config"
            )
        if label.count(":") < 2 or any(c in label for c in "\"\n\0"):
            raise ValidationError(f"{where}.{key}", f"{label!r} is not an SELinux context (user:role:type[:level])")


def _write_attr(path: str, data: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def apply_exec_labels(process: dict[str, object], proc: str = "/proc") -> None:
    """In the init, before execve: the AppArmor profile and SELinux label of the program to run.

    They take effect at execve (the attr ``exec`` files of this thread)."""
    profile = _string(process, "apparmorProfile", "process")
    label = _string(process, "selinuxLabel", "process")
    base = os.path.join(proc, "thread-self/attr")
    if profile:
        stacked = os.path.join(base, "apparmor/exec")
        target = stacked if os.path.exists(stacked) else os.path.join(base, "exec")
        try:
            _write_attr(target, f"exec {profile}")
        except OSError as e:
            raise RuntimeFailure(
                f"cannot apply process.apparmorProfile {profile!r} ({target}): {e.strerror}",
                step="apparmor", errno=e.errno or 0,
            ) from None
    if label:
        target = os.path.join(base, "exec")
        try:
            _write_attr(target, label)
        except OSError as e:
            raise RuntimeFailure(
                f"cannot apply process.selinuxLabel {label!r} ({target}): {e.strerror}", step="selinux", errno=e.errno or 0
            ) from None


def mount_label_option(linux: dict[str, object], sysfs: str = "/sys") -> str | None:
    """``context="<mountLabel>"`` to add to the data of the container's mounts, or None.

    None when there is no mountLabel or SELinux is not enabled (``check_labels`` has refused a
    mountLabel on such a host already)."""
    label = _string(linux, "mountLabel", "linux")
    if not label or not selinux_enabled(sysfs):
        return None
    return f'context="{label}"'
