"""Namespace and mount planning, checked against the recording fake of the system calls (no root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pallet._linux import consts as c
from pallet._linux.system import RecordingSystem
from pallet.errors import ConfigError
from pallet.runtime import namespaces
from pallet.runtime.rootfs import devices, finalize, mounts
from pallet.runtime.rootfs.paths import resolve_in_root


def test_plan_creates_and_joins() -> None:
    plan = namespaces.plan([
        {"type": "pid"}, {"type": "network", "path": "/run/netns/x"}, {"type": "mount"},
        {"type": "user"}, {"type": "uts"}, {"type": "ipc", "path": "/proc/1/ns/ipc"},
    ])
    assert plan.unshare == c.CLONE_NEWPID | c.CLONE_NEWNS | c.CLONE_NEWUTS
    assert plan.new_user
    assert [(kind, path) for _, path, kind in plan.joins] == [("network", "/run/netns/x"), ("ipc", "/proc/1/ns/ipc")]
    assert plan.is_new("pid") and not plan.is_new("network") and plan.has("network")


def test_plan_joins_the_user_namespace_first() -> None:
    plan = namespaces.plan([{"type": "network", "path": "/a"}, {"type": "user", "path": "/b"}])
    assert [kind for _, _, kind in plan.joins] == ["user", "network"]


def test_the_runtime_forks_the_init_itself_unless_an_intermediate_is_needed() -> None:
    default = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")]
    assert namespaces.plan(default).runtime_forks_init()
    joins = [{"type": "pid", "path": "/p"}, {"type": "network", "path": "/n"}, {"type": "ipc", "path": "/i"},
             {"type": "uts", "path": "/u"}, {"type": "mount"}]
    assert namespaces.plan(joins).runtime_forks_init()  # (the runtime enters the PID one for its child)
    assert namespaces.plan([]).runtime_forks_init()
    for extra in ({"type": "user"}, {"type": "user", "path": "/u"}, {"type": "time"}, {"type": "time", "path": "/t"},
                  {"type": "mount", "path": "/m"}, {"type": "cgroup", "path": "/c"}):
        others = [n for n in default if n["type"] != extra["type"]]
        assert not namespaces.plan([*others, extra]).runtime_forks_init(), extra


def test_plan_rejects_unknown_type() -> None:
    with pytest.raises(ConfigError, match=r"linux\.namespaces\[1\]\.type .foo."):
        namespaces.plan([{"type": "pid"}, {"type": "foo"}])


def test_join_uses_setns_with_each_flag(tmp_path: Path) -> None:
    (tmp_path / "ns").write_text("")
    plan = namespaces.plan([{"type": "network", "path": str(tmp_path / "ns")}])
    sys = RecordingSystem()
    namespaces.join(sys, namespaces.open_joins(plan))
    assert [(call[0], call[2]) for call in sys.calls] == [("setns", c.CLONE_NEWNET)]


def test_id_map_format() -> None:
    maps = [{"containerID": 0, "hostID": 100000, "size": 1000}, {"containerID": 1000, "hostID": 2000, "size": 1}]
    assert namespaces.format_id_map(maps) == "0 100000 1000\n1000 2000 1\n"


def test_resolve_in_root_keeps_symlinks_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "abs").symlink_to("/etc")
    (root / "rel").symlink_to("../../../../etc")
    (root / "loop").symlink_to("loop")
    (root / "two").symlink_to("abs/../rel")
    assert resolve_in_root(str(root), "/abs/x") == str(root / "etc" / "x")
    assert resolve_in_root(str(root), "/rel/x") == str(root / "etc" / "x")
    assert resolve_in_root(str(root), "/../../x") == str(root / "x")
    assert resolve_in_root(str(root), "two/y") == str(root / "etc" / "y")
    with pytest.raises(ConfigError, match="too many levels"):
        resolve_in_root(str(root), "/loop/x")


def _mounts_of(sys: RecordingSystem) -> list[tuple[object, ...]]:
    return [call for call in sys.calls if call[0] == "mount"]


def test_mount_plan_for_the_default_mounts(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "proc").mkdir(parents=True)
    sys = RecordingSystem()
    ctx = mounts.MountContext(new_cgroupns=True)
    config_mounts: list[dict[str, object]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/data", "type": "bind", "source": str(tmp_path), "options": ["rbind", "ro", "nosuid", "rprivate"]},
    ]
    mounts.mount_all(sys, str(root), config_mounts, ctx)
    calls = _mounts_of(sys)
    assert calls[0] == ("mount", "proc", str(root / "proc"), "proc", 0, None)
    assert calls[1] == ("mount", "tmpfs", str(root / "dev"), "tmpfs", c.MS_NOSUID | c.MS_STRICTATIME, "mode=755")
    assert calls[2] == ("mount", "devpts", str(root / "dev/pts"), "devpts", c.MS_NOSUID | c.MS_NOEXEC,
                        "newinstance,ptmxmode=0666,mode=0620,gid=5")
    # a bind mount: bind first, then a remount for its flags, then its propagation
    assert calls[3] == ("mount", str(tmp_path), str(root / "data"), None, c.MS_BIND | c.MS_REC, None)
    assert calls[4] == ("mount", None, str(root / "data"), None, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY | c.MS_NOSUID, None)
    assert calls[5] == ("mount", None, str(root / "data"), None, c.MS_PRIVATE | c.MS_REC, None)
    assert (root / "dev" / "pts").is_dir() and (root / "data").is_dir()


def test_mount_destination_through_symlink_lands_inside(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "evil").symlink_to(str(outside))
    sys = RecordingSystem()
    mounts.mount_all(sys, str(root), [{"destination": "/evil/t", "type": "tmpfs", "source": "tmpfs"}],
                     mounts.MountContext())
    target = _mounts_of(sys)[0][2]
    assert str(target).startswith(str(root) + "/")
    assert not (outside / "t").exists()


def test_proc_on_a_symlink_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    root.mkdir()
    (root / "proc").symlink_to("/etc")
    with pytest.raises(ConfigError, match="symlink"):
        mounts.mount_all(RecordingSystem(), str(root), [{"destination": "/proc", "type": "proc", "source": "proc"}],
                         mounts.MountContext())


def test_bind_of_a_missing_source_names_it(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    root.mkdir()
    with pytest.raises(ConfigError, match=r"mounts\[0\].source '/no/such'"):
        mounts.mount_all(RecordingSystem(), str(root),
                         [{"destination": "/x", "type": "bind", "source": "/no/such", "options": ["bind"]}],
                         mounts.MountContext())


def test_prepare_root_propagation(tmp_path: Path) -> None:
    sys = RecordingSystem()
    mounts.prepare_root(sys, str(tmp_path), "rprivate")
    assert sys.calls[0] == ("mount", None, "/", None, c.MS_PRIVATE | c.MS_REC, None)
    assert sys.calls[1] == ("mount", str(tmp_path), str(tmp_path), None, c.MS_BIND | c.MS_REC, None)
    with pytest.raises(ConfigError, match="rootfsPropagation"):
        mounts.prepare_root(RecordingSystem(), str(tmp_path), "sideways")


def test_devices_are_created_with_their_modes(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "dev").mkdir(parents=True)
    sys = RecordingSystem()
    devices.create_devices(sys, str(root), [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                                             "fileMode": 0o600, "uid": 5, "gid": 6}], bind=False)
    made = {call[1]: call for call in sys.calls if call[0] == "mknod"}
    assert made[str(root / "dev/null")][2] == 0o020666 and made[str(root / "dev/null")][3] == os.makedev(1, 3)
    assert made[str(root / "dev/fuse")][2] == 0o020600 and made[str(root / "dev/fuse")][3] == os.makedev(10, 229)
    assert ("chown", str(root / "dev/fuse"), 5, 6) in sys.calls
    bind = RecordingSystem()
    devices.create_devices(bind, str(root), [], bind=True)
    assert all(call[0] == "mount" and call[4] == c.MS_BIND for call in bind.calls)


def test_bad_device_type(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"linux.devices\[0\].type 'x'"):
        devices.create_devices(RecordingSystem(), str(tmp_path), [{"path": "/dev/x", "type": "x"}], bind=False)


def test_masked_and_readonly_paths(tmp_path: Path) -> None:
    sys = RecordingSystem()
    finalize.readonly_paths(sys, [str(tmp_path), str(tmp_path / "missing")])
    assert [call[0] for call in sys.calls] == ["mount", "mount"]
    assert sys.calls[1][4] & c.MS_RDONLY
    masked = RecordingSystem()
    finalize.mask_paths(masked, [str(tmp_path), str(tmp_path / "missing")])
    assert masked.calls == [("mount", "tmpfs", str(tmp_path), "tmpfs", c.MS_RDONLY, None)]


def _late_setup(**changes: object) -> object:
    from pallet.oci.defaults import default_spec
    from pallet.runtime import namespaces
    from pallet.runtime.process.setup import Setup

    config = default_spec()
    config.update(changes)
    setup = Setup("c1", config, "/nonexistent-bundle")
    setup.ns = namespaces.plan(setup.linux.get("namespaces") or [])  # type: ignore[arg-type]
    return setup


def test_the_init_waits_late_only_when_nothing_depends_on_the_cgroup_mounts() -> None:
    from pallet.runtime.process.setup import waits_late

    assert waits_late(_late_setup())  # the default spec: cgroup namespace, /sys/fs/cgroup, nothing beneath
    assert waits_late(_late_setup(root={"path": "rootfs", "readonly": False}))
    no_pivot = _late_setup()
    no_pivot.no_pivot = True  # type: ignore[attr-defined]
    assert not waits_late(no_pivot)
    hooked = _late_setup(hooks={"createContainer": [{"path": "/bin/true"}]})
    assert not waits_late(hooked)
    spec = _late_setup()
    spec.linux["namespaces"] = [n for n in spec.linux["namespaces"] if n["type"] != "cgroup"]  # type: ignore[attr-defined, index]
    from pallet.runtime import namespaces

    spec.ns = namespaces.plan(spec.linux["namespaces"])  # type: ignore[attr-defined, arg-type]
    assert not waits_late(spec)  # binds of the host's cgroups: host paths, gone after pivot_root


def test_cgroup_mounts_wait_only_when_nothing_lies_beneath_them() -> None:
    from pallet.runtime.process.setup import cgroup_mounts_can_wait

    cg = {"destination": "/sys/fs/cgroup", "type": "cgroup"}
    proc = {"destination": "/proc", "type": "proc"}
    assert cgroup_mounts_can_wait([proc, cg], ["/proc/kcore"])
    assert cgroup_mounts_can_wait([cg, {"destination": "/sys/fs/cgroupx", "type": "tmpfs"}], [])
    assert not cgroup_mounts_can_wait([cg, {"destination": "/sys/fs/cgroup/x", "type": "tmpfs"}], [])
    assert not cgroup_mounts_can_wait([cg, {"destination": "/sys/fs/cgroup/", "type": "bind"}], [])
    assert not cgroup_mounts_can_wait([cg], ["/sys/fs/cgroup/memory"])  # a masked or read-only path
    assert not cgroup_mounts_can_wait([{"destination": "/dev/cg", "type": "cgroup2"}], [])  # beside the devices
    assert not cgroup_mounts_can_wait([{"destination": "/", "type": "cgroup2"}], [])
    assert cgroup_mounts_can_wait([{"destination": "/sys/fs/cgroup/x", "type": "tmpfs"}, cg], [])  # before it: fine
    assert cgroup_mounts_can_wait([{"destination": "/sys", "type": "sysfs"}, cg], [])  # above, but before it
    assert not cgroup_mounts_can_wait([cg, {"destination": "/sys", "type": "tmpfs"}], [])  # a later one above
    assert not cgroup_mounts_can_wait([cg], ["/sys/fs"])  # a masked directory above it hides it


class _Manager:
    """A cgroup manager that records what the parent does with it."""

    def __init__(self, calls: list[str], self_joins: bool) -> None:
        self.calls = calls
        self.self_joins = self_joins

    def create(self) -> None:
        self.calls.append("create")

    def set(self, resources: object) -> None:
        self.calls.append("set")

    def add(self, pid: int) -> None:
        self.calls.append(f"add {pid}")


class _Chan:
    """The parent's end of the channel, with the children's messages scripted."""

    def __init__(self, calls: list[str], script: list[dict[str, object]]) -> None:
        self.calls = calls
        self.script = script

    def expect(self, *types: str, who: str) -> tuple[dict[str, object], list[int]]:
        msg = self.script.pop(0)
        assert msg["type"] in types
        self.calls.append(f"got {msg['type']}")
        return msg, []

    def send(self, mtype: str, **fields: object) -> None:
        self.calls.append(f"send {mtype}")


def test_the_parent_writes_the_limits_before_the_init_joins_and_only_then_says_go() -> None:
    # The init builds its root filesystem (device nodes among it) while the parent makes the
    # cgroup: the device rules must be complete before it is moved in, "go" only after.
    from pallet.runtime.process.parent import Started, _drive

    calls: list[str] = []
    setup = _late_setup()
    setup.cgroup = _Manager(calls, self_joins=False)  # type: ignore[attr-defined]
    chan = _Chan(calls, [{"type": "init_pid", "pid": 2**22 + 7}, {"type": "ready"}])
    _drive(setup, chan, Started(), 2**22 + 5, None)  # type: ignore[arg-type]
    assert calls == ["create", "set", "got init_pid", f"add {2**22 + 7}", "send go", "got ready"]
    assert setup.made_cgroup  # type: ignore[attr-defined]


def test_an_init_forked_by_the_runtime_is_told_go_once_the_cgroup_is_made() -> None:
    # No intermediate (setup.direct): the init's pid is known at once; the parent makes the cgroup,
    # writes its limits and says "go" (the init joins it itself where the host allows), no init_pid.
    from pallet.runtime.process.parent import Started, _drive

    for self_joins, placed in ((True, []), (False, [f"add {2**22 + 9}"])):
        calls: list[str] = []
        setup = _late_setup()
        setup.cgroup = _Manager(calls, self_joins=self_joins)  # type: ignore[attr-defined]
        setup.direct = True  # type: ignore[attr-defined]
        started = Started()
        started.pid = 2**22 + 9
        _drive(setup, _Chan(calls, [{"type": "ready"}]), started, started.pid, None)  # type: ignore[arg-type]
        assert calls == ["create", "set", *placed, "send go", "got ready"]


def test_an_init_that_joins_its_cgroup_itself_waits_for_go_before_pivot_root() -> None:
    from pallet.runtime.process.setup import waits_late

    class Manager:
        self_joins = True

    direct = _late_setup()
    direct.direct = True  # type: ignore[attr-defined]
    direct.cgroup = Manager()  # type: ignore[attr-defined]
    assert not waits_late(direct)  # (it joins through the host's cgroup files)
    Manager.self_joins = False
    assert waits_late(direct)  # (the parent puts it in: it may wait after pivot_root)
