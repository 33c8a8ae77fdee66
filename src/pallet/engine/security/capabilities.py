"""docker's capability defaults and the --cap-add / --cap-drop / --privileged merge."""

from __future__ import annotations

from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# The 14 capabilities a docker container gets by default (CapEff a80425fb).
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
)


def all_capabilities(last_cap: int | None = None, bounding: int | None = None) -> list[str]:
    """Every capability the running kernel knows (up to cap_last_cap) and this process may pass on.

    A container cannot get a capability outside the bounding set of the runtime that starts it
    (root on some hosts lacks CAP_SYS_RESOURCE, for one): asking for it would make capset fail, so
    "all" means the kernel's capabilities within this process's bounding set, as podman does.
    ``bounding`` (a mask) replaces this process's set; with ``last_cap`` given and no ``bounding``
    (a description of another kernel) no bounding set is applied."""
    from pallet._linux.caps import CAP_NAMES
    from pallet._linux.caps import last_cap as kernel_last_cap

    if bounding is None and last_cap is None:
        bounding = _own_bounding_set()
    top = kernel_last_cap() if last_cap is None else last_cap
    return [name for i, name in enumerate(CAP_NAMES) if i <= top and (bounding is None or bounding >> i & 1)]


_NO_LIMIT = (1 << 64) - 1


def _own_bounding_set() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return int(line.split(":", 1)[1].strip(), 16)
    except (OSError, ValueError):
        pass
    return None


def normalize(name: str, source: str) -> str:
    """``net_admin``, ``NET_ADMIN``, ``CAP_NET_ADMIN`` -> ``CAP_NET_ADMIN``; ``all`` -> ``ALL``."""
    from pallet._linux.caps import CAP_NUMBERS

    upper = name.strip().upper()
    if upper == "ALL":
        return upper
    if not upper.startswith("CAP_"):
        upper = "CAP_" + upper
    if upper not in CAP_NUMBERS:
        raise ConfigError(f"invalid {source} value {name!r}: unknown capability (like NET_ADMIN, SYS_PTRACE, or ALL)")
    return upper


def merge_capabilities(
    cap_add: Iterable[str] = (), cap_drop: Iterable[str] = (), privileged: bool = False,
    last_cap: int | None = None, bounding: int | None = None,
) -> list[str]:
    """The capability list of a container, as docker computes it.

    --privileged: every capability.  --cap-add ALL: every capability but the dropped ones.
    --cap-drop ALL: only the added ones.  Otherwise the 14 defaults, minus the dropped, plus the added.
    Capabilities the kernel does not have are left out, and so are those outside this process's
    bounding set (``bounding`` replaces it) unless --cap-add names them: see ``all_capabilities``."""
    adds = [normalize(c, "--cap-add") for c in cap_add]
    drops = [normalize(c, "--cap-drop") for c in cap_drop]
    every = all_capabilities(last_cap, bounding)
    if privileged:
        return every
    # A capability named in --cap-add stays even outside the bounding set: the runtime then says
    # which one it cannot grant, rather than the container silently running without it.
    kernel = all_capabilities(last_cap, _NO_LIMIT)
    if "ALL" in adds:
        return [c for c in every if c not in drops] + [c for c in kernel if c in adds and c not in every]
    if "ALL" in drops:
        return [c for c in kernel if c in adds]
    caps = [c for c in DEFAULT_CAPABILITIES if c not in drops]
    caps += [c for c in adds if c not in caps]
    return [c for c in caps if c in every or (c in adds and c in kernel)]


def oci_capabilities(caps: Iterable[str], uid: int = 0) -> dict[str, list[str]]:
    """process.capabilities for ``caps``: the bounding set always; effective and permitted only for
    uid 0 (a non-root user starts without capabilities, as in docker); inheritable and ambient empty."""
    listed = list(caps)
    active = listed if uid == 0 else []
    return {"bounding": listed, "effective": list(active), "permitted": list(active), "inheritable": [], "ambient": []}
