"""docker's --security-opt values, and the security part of a container's OCI config.

``security_config`` is the one place the engine turns --privileged, --cap-add, --cap-drop,
--security-opt and the user into process.capabilities, process.noNewPrivileges, linux.seccomp,
linux.maskedPaths/readonlyPaths and the LSM labels.
"""

from __future__ import annotations

from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

_TRUE = ("", "true", "1")
_FALSE = ("false", "0")
LABEL_KEYS = ("user", "role", "type", "level", "filetype")


class SecurityOptions:
    """What --security-opt asked for."""

    __slots__ = ("apparmor", "label_disable", "labels", "no_new_privileges", "seccomp", "systempaths_unconfined")

    def __init__(self) -> None:
        self.no_new_privileges = False
        self.seccomp: str | None = None  # None: the default profile; "unconfined"; or a file path
        self.apparmor: str | None = None
        self.labels: dict[str, str] = {}
        self.label_disable = False
        self.systempaths_unconfined = False


def parse_security_opts(opts: Iterable[str]) -> SecurityOptions:
    """Parse ``--security-opt`` values (``key=value``, or docker's older ``key:value``)."""
    out = SecurityOptions()
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if key == "no-new-privileges":
            if value not in _TRUE + _FALSE:
                raise ConfigError(f"invalid --security-opt {opt!r}: no-new-privileges takes true or false")
            out.no_new_privileges = value in _TRUE
        elif key == "seccomp":
            if not value:
                raise ConfigError(f"invalid --security-opt {opt!r}: seccomp takes a profile file or 'unconfined'")
            out.seccomp = value
        elif key == "apparmor":
            if not value:
                raise ConfigError(f"invalid --security-opt {opt!r}: apparmor takes a profile name or 'unconfined'")
            out.apparmor = value
        elif key == "label":
            if value == "disable":
                out.label_disable = True
                continue
            lkey, lsep, lvalue = value.partition(":")
            if not lsep or lkey not in LABEL_KEYS or not lvalue:
                raise ConfigError(f"invalid --security-opt {opt!r}: label takes disable or "
                                  f"{'|'.join(LABEL_KEYS)}:VALUE")
            out.labels[lkey] = lvalue
        elif key == "systempaths":
            if value != "unconfined":
                raise ConfigError(f"invalid --security-opt {opt!r}: systempaths takes only 'unconfined'")
            out.systempaths_unconfined = True
        else:
            raise ConfigError(f"invalid --security-opt {opt!r} (allowed: no-new-privileges, seccomp=, apparmor=, "
                              "label=, systempaths=unconfined)")
    return out


def security_config(
    options: SecurityOptions, *, privileged: bool = False, cap_add: Iterable[str] = (), cap_drop: Iterable[str] = (),
    uid: int = 0, warnings: list[str] | None = None, sysfs: str = "/sys", cache_dir: str = "",
) -> dict[str, dict[str, object]]:
    """{"process": {...}, "linux": {...}}: the security fields to merge into a container's config.

    Labels the host cannot apply (no AppArmor, no SELinux) are left out with a message appended
    to ``warnings``, as docker does; an unreadable or invalid seccomp profile is a ConfigError.
    ``cache_dir``: where the default seccomp profile, once resolved, is kept (``default_seccomp``)."""
    from pallet.engine.security.capabilities import merge_capabilities, oci_capabilities
    from pallet.engine.security.paths import default_paths
    from pallet.engine.security.seccomp_profile import default_seccomp, load_profile_file, profile_to_oci
    notes = warnings if warnings is not None else []
    caps = merge_capabilities(cap_add, cap_drop, privileged)
    process: dict[str, object] = {
        "capabilities": oci_capabilities(caps, uid),
        "noNewPrivileges": options.no_new_privileges,
    }
    linux: dict[str, object] = dict(default_paths(privileged, options.systempaths_unconfined))
    if options.seccomp == "unconfined" or (privileged and options.seccomp is None):
        pass
    elif options.seccomp is None:
        linux["seccomp"] = default_seccomp(caps, cache_dir=cache_dir)
    else:
        linux["seccomp"] = profile_to_oci(load_profile_file(options.seccomp), caps, source=options.seccomp)
    if options.apparmor and options.apparmor != "unconfined":
        from pallet.runtime.lsm import apparmor_enabled  # only with an LSM option: one module less per run

        if apparmor_enabled(sysfs):
            process["apparmorProfile"] = options.apparmor
        else:
            notes.append(f"AppArmor is not enabled on this host: --security-opt apparmor={options.apparmor} ignored")
    if options.labels and not options.label_disable:
        from pallet.runtime.lsm import selinux_enabled

        if selinux_enabled(sysfs):
            label = ":".join(options.labels.get(k, d) for k, d in
                             (("user", "system_u"), ("role", "system_r"), ("type", "container_t"), ("level", "s0")))
            process["selinuxLabel"] = label
            filetype = options.labels.get("filetype", "container_file_t")
            linux["mountLabel"] = f"{options.labels.get('user', 'system_u')}:object_r:{filetype}:" \
                                  f"{options.labels.get('level', 's0')}"
        else:
            notes.append("SELinux is not enabled on this host: --security-opt label=... ignored")
    return {"process": process, "linux": linux}
