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
        self.cgroup_after_fork = False
        self.made_cgroup = False
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

    @property
    def terminal(self) -> bool:
        return bool(self.process.get("terminal"))
