"""Everything ``create`` works out in the parent before it forks: the children inherit it.

The parent validates and compiles once (the spec, the cgroup manager, the seccomp filter, the
capability sets); the forked intermediate and init processes only carry it out.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.runtime.cgroups import CgroupManager
    from pallet.runtime.namespaces import NamespacePlan


class Setup:
    """The container being created (or the process being exec'd) as the children need it."""

    def __init__(self, cid: str, config: dict[str, object], bundle: str) -> None:
        self.cid = cid
        self.config = config
        self.bundle = bundle
        root = config.get("root") or {}
        assert isinstance(root, dict)
        rpath = str(root.get("path", ""))
        self.rootfs = os.path.realpath(os.path.join(bundle, rpath))
        self.readonly_root = bool(root.get("readonly"))
        process = config.get("process") or {}
        assert isinstance(process, dict)
        self.process: dict[str, object] = process
        linux = config.get("linux") or {}
        assert isinstance(linux, dict)
        self.linux: dict[str, object] = linux
        self.resources: dict[str, object] | None = None
        # mounts[i] with the idmap/ridmap option -> a detached idmapped mount made by the parent
        self.idmap_fds: dict[int, int] = {}
        self.ns: NamespacePlan | None = None
        self.cgroup: CgroupManager | None = None
        # create: the parent makes the cgroup once the intermediate is forked (see parent._drive);
        # made_cgroup says it did, so that a failure removes it (and only then)
        self.made_cgroup = False
        # The init waits for "go" only before its cgroup namespace, its cgroup mounts (made last)
        # and its credentials (see waits_late)
        self.late_go = False
        self.seccomp: object = None
        self.caps: object = None
        self.fifo_fd = -1
        self.console_socket = ""
        self.no_pivot = False
        self.no_new_keyring = False
        self.preserve_fds = 0
        self.is_exec = False
        self.join_pidfd = -1
        self.join_flags = 0
        self.detach = True
        self.proxy_tty = False
        # create: the intermediate exits only once this pipe reads (or closes): the parent first
        # makes itself the subreaper its orphan, the init, is handed to (parent._drive)
        self.release_fd = -1
        self.subreaper = False
        # create: the runtime forks the init itself, no intermediate (NamespacePlan.runtime_forks_init)
        self.direct = False
        # create: the runtime's CPUs, which the init takes back on "go" (the runtime moves the child
        # it forks, the init or the intermediate, to its other CPUs: parent._cpus_apart); None where
        # it does not
        self.cpus: frozenset[int] | None = None

    @property
    def terminal(self) -> bool:
        return bool(self.process.get("terminal"))


# What a Setup carries to a child forked before it was made (process.prefork): plain values as
# they are, the fds by SCM_RIGHTS, the parts that are objects by their state.
_PLAIN = ("cid", "config", "bundle", "rootfs", "readonly_root", "resources", "late_go",
          "console_socket", "no_pivot", "no_new_keyring", "preserve_fds", "is_exec", "join_flags", "detach",
          "proxy_tty", "direct", "cpus")


def _slots(obj: object) -> dict[str, object] | None:
    return None if obj is None else {name: getattr(obj, name) for name in type(obj).__slots__}  # type: ignore[attr-defined]


def _from_slots(cls: type[object], state: object) -> object:
    if state is None:
        return None
    assert isinstance(state, dict)
    obj = object.__new__(cls)
    for name, value in state.items():
        setattr(obj, name, value)
    return obj


def to_wire(setup: Setup) -> tuple[bytes, list[int]]:
    """The setup as bytes (marshal: no import, and only plain data) and the fds to send with them."""
    import marshal

    fds: list[int] = []

    def fd(n: int) -> int:
        if n < 0:
            return -1
        fds.append(n)
        return len(fds) - 1

    state: dict[str, object] = {name: getattr(setup, name) for name in _PLAIN}
    state["fifo_fd"] = fd(setup.fifo_fd)
    state["join_pidfd"] = fd(setup.join_pidfd)
    state["release_fd"] = fd(setup.release_fd)
    state["idmap_fds"] = {i: fd(n) for i, n in setup.idmap_fds.items()}
    state["ns"] = _slots(setup.ns)
    state["caps"] = _slots(setup.caps)
    state["seccomp"] = _slots(setup.seccomp)
    state["cgroup"] = setup.cgroup.to_dict() if setup.cgroup is not None else None
    return marshal.dumps(state), fds


def from_wire(data: bytes, fds: list[int]) -> Setup:
    """The Setup that to_wire sent; ``fds`` are the received ones, in order."""
    import marshal

    state = marshal.loads(data)
    assert isinstance(state, dict)
    setup = Setup(state["cid"], state["config"], state["bundle"])
    for name in _PLAIN:
        setattr(setup, name, state[name])

    def fd(i: int) -> int:
        return fds[i] if i >= 0 else -1

    setup.fifo_fd = fd(state["fifo_fd"])
    setup.join_pidfd = fd(state["join_pidfd"])
    setup.release_fd = fd(state["release_fd"])
    setup.idmap_fds = {int(i): fd(n) for i, n in state["idmap_fds"].items()}
    if state["ns"] is not None:
        from pallet.runtime.namespaces import NamespacePlan

        setup.ns = _from_slots(NamespacePlan, state["ns"])  # type: ignore[assignment]
    if state["caps"] is not None:
        from pallet.runtime.capabilities import CapSets

        setup.caps = _from_slots(CapSets, state["caps"])
    if state["seccomp"] is not None:
        from pallet.runtime.seccomp import CompiledFilter

        setup.seccomp = _from_slots(CompiledFilter, state["seccomp"])
    if state["cgroup"] is not None:
        from pallet.runtime.cgroups import load_manager

        setup.cgroup = load_manager(state["cgroup"])
    return setup


def waits_late(setup: Setup) -> bool:
    """Whether the init can build its whole root filesystem, pivot_root and hide the masked paths
    before it waits for "go", leaving only its cgroup namespace, cgroup mounts and credentials for
    after: a new cgroup namespace (real cgroup mounts, no host path needed after pivot_root), no
    hook before the process (they run in between), no --no-pivot, and no mount, masked or read-only
    path or device node at or beneath a cgroup mount.  (A read-only root is remounted after the
    cgroup mounts, which may have to make their mount point.)"""
    from pallet.runtime import hooks

    if setup.ns is None or not setup.ns.is_new("cgroup") or setup.no_pivot or setup.is_exec:
        return False
    if setup.direct and setup.cgroup is not None and setup.cgroup.self_joins:
        return False  # (the init joins its cgroup on "go", through the host's files: before pivot_root)
    if hooks.has_hooks(setup.config, "prestart", "createRuntime", "createContainer"):
        return False
    mounts = setup.config.get("mounts") or []
    if not isinstance(mounts, list):
        return False
    others = [str(p) for key in ("maskedPaths", "readonlyPaths") for p in setup.linux.get(key) or []]  # type: ignore[attr-defined]
    others += [str(d.get("path", "")) for d in setup.linux.get("devices") or [] if isinstance(d, dict)]  # type: ignore[attr-defined]
    return cgroup_mounts_can_wait(mounts, others)


def _beneath(path: str, top: str) -> bool:
    path = os.path.normpath("/" + path)
    top = os.path.normpath("/" + top)
    return path == top or path.startswith(top.rstrip("/") + "/")


def cgroup_mounts_can_wait(mounts: list[dict[str, object]], other_paths: list[str]) -> bool:
    """Whether the cgroup mounts can be made last, after pivot_root and the masked and read-only
    paths, without changing what the container sees: no later mount, and none of ``other_paths``
    (masked, read-only, device nodes), lies at, beneath or above one of them (a mount or a mask
    above would have covered it), and none is in /dev (the device nodes are made before)."""
    for i, m in enumerate(mounts):
        if m.get("type") not in ("cgroup", "cgroup2"):
            continue
        dest = str(m.get("destination", ""))
        if _beneath(dest, "/dev") or _beneath("/dev", dest):
            return False
        later = [str(n.get("destination", "")) for n in mounts[i + 1:]]
        if any(_beneath(p, dest) or _beneath(dest, p) for p in [*later, *other_paths]):
            return False
    return True
