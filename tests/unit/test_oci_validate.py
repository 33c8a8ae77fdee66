"""validate_config and validate_process: a table of bad documents, each with the error it must get."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pallet.errors import ValidationError
from pallet.oci.defaults import default_spec
from pallet.oci.validate import validate_config, validate_process

Doc = dict[str, Any]


def ns(doc: Doc, *kinds: str) -> None:
    doc["linux"]["namespaces"] = [{"type": k} for k in kinds]


def userns(doc: Doc) -> None:
    doc["linux"]["namespaces"].append({"type": "user"})
    doc["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    doc["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def setp(path: str, value: object) -> Callable[[Doc], None]:
    """A mutation that sets the dotted ``path`` (with [i] indexes) to ``value``."""

    def mutate(doc: Doc) -> None:
        target: Any = doc
        parts = path.replace("]", "").replace("[", ".").split(".")
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
        last = parts[-1]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def delp(path: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for part in parents:
            target = target[part]
        del target[last]

    return mutate


def both(*mutations: Callable[[Doc], None]) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        for m in mutations:
            m(doc)

    return mutate


NS_ALLOWED = "(allowed: cgroup, ipc, mount, network, pid, time, user, uts)"

BAD: list[tuple[str, Callable[[Doc], None], str]] = [
    # top level
    ("version missing", delp("ociVersion"), "ociVersion is required"),
    ("version major 2", setp("ociVersion", "2.0.0"), 'ociVersion "2.0.0" is not supported (allowed: 1.x.y)'),
    ("version not semver", setp("ociVersion", "one"), 'ociVersion "one" is not a version (like 1.2.0)'),
    ("version number", setp("ociVersion", 1), "ociVersion must be a string, got 1 (a number)"),
    ("root missing", delp("root"), "root is required"),
    ("root path missing", delp("root.path"), "root.path is required"),
    ("root path empty", setp("root.path", ""), "root.path must not be empty"),
    ("root readonly string", setp("root.readonly", "yes"),
     'root.readonly must be a boolean (true or false), got "yes" (a string)'),
    ("hostname too long", setp("hostname", "h" * 65), f'hostname "{"h" * 65}" is longer than 64 bytes'),
    ("hostname without uts", both(setp("hostname", "x"), lambda d: ns(d, "mount")),
     'hostname needs a uts namespace: add {"type": "uts"} to linux.namespaces'),
    ("annotations value", setp("annotations", {"a": 1}), 'annotations["a"] must be a string, got 1 (a number)'),
    # mounts
    ("mounts not a list", setp("mounts", {}), "mounts must be an array, got {} (an object)"),
    ("mount relative", setp("mounts[3].destination", "rel/x"), 'mounts[3].destination "rel/x" must be an absolute path'),
    ("mount no destination", setp("mounts[2]", {"type": "tmpfs", "source": "tmpfs"}), "mounts[2].destination is required"),
    ("mount option number", setp("mounts[1].options", ["nosuid", 5]),
     "mounts[1].options[1] must be a string, got 5 (a number)"),
    ("mount option empty", setp("mounts[1].options", ["nosuid", ""]), 'mounts[1].options[1] must not be empty'),
    ("bind without source", setp("mounts[0]", {"destination": "/x", "options": ["rbind"]}),
     "mounts[0].source is required for a bind mount"),
    ("idmap half", setp("mounts[0]", {"destination": "/x", "type": "bind", "source": "/s",
                                      "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}),
     "mounts[0].gidMappings is required with mounts[0].uidMappings (an idmapped mount needs both)"),
    # process
    ("process missing", delp("process"), "process is required"),
    ("args empty", setp("process.args", []), "process.args must not be empty"),
    ("args missing", delp("process.args"), "process.args is required"),
    ("args string", setp("process.args", "sh"), 'process.args must be an array, got "sh" (a string)'),
    ("args item", setp("process.args", ["sh", None]), "process.args[1] must be a string, got null (null)"),
    ("args nul", setp("process.args", ["sh\0"]), 'process.args[0] "sh\\u0000" must not contain a NUL character'),
    ("args0 empty", setp("process.args", [""]), 'process.args[0] must name the program to run, got ""'),
    ("env no equals", setp("process.env", ["PATH=/bin", "FOO"]), 'process.env[1] "FOO" must have the form NAME=value'),
    ("env empty name", setp("process.env", ["=x"]), 'process.env[0] "=x" has an empty variable name'),
    ("cwd relative", setp("process.cwd", "tmp"), 'process.cwd "tmp" must be an absolute path'),
    ("cwd missing", delp("process.cwd"), "process.cwd is required"),
    ("uid string", setp("process.user.uid", "0"), 'process.user.uid must be an integer, got "0"'),
    ("uid negative", setp("process.user.uid", -1), "process.user.uid must not be negative, got -1"),
    ("uid too big", setp("process.user.uid", 1 << 32), f"process.user.uid must be at most {(1 << 32) - 1}, got {1 << 32}"),
    ("uid float", setp("process.user.uid", 1.0), "process.user.uid must be an integer, got 1.0"),
    ("uid bool", setp("process.user.uid", True), "process.user.uid must be an integer, got true"),
    ("gid missing", delp("process.user.gid"), "process.user.gid is required"),
    ("umask", setp("process.user.umask", 0o1000), "process.user.umask must be at most 511, got 512"),
    ("additional gid", setp("process.user.additionalGids", [1, "2"]),
     'process.user.additionalGids[1] must be an integer, got "2"'),
    ("console size without terminal", both(setp("process.terminal", False), setp("process.consoleSize", {"height": 1, "width": 1})),
     "process.consoleSize is only allowed when process.terminal is true"),
    ("console size negative", setp("process.consoleSize", {"height": -1, "width": 1}),
     "process.consoleSize.height must not be negative, got -1"),
    ("unknown capability", setp("process.capabilities.effective", ["CAP_KILL", "CAP_FLY"]),
     'process.capabilities.effective[1] "CAP_FLY" is not a capability (like CAP_KILL; '
     "`pallet-runtime features` lists them)"),
    ("capabilities not list", setp("process.capabilities.bounding", "CAP_KILL"),
     'process.capabilities.bounding must be an array, got "CAP_KILL" (a string)'),
    ("rlimit type", setp("process.rlimits", [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]),
     'process.rlimits[0].type "RLIMIT_FOO" is not an rlimit (allowed: RLIMIT_AS, RLIMIT_CORE, RLIMIT_CPU, '
     "RLIMIT_DATA, RLIMIT_FSIZE, RLIMIT_LOCKS, RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NOFILE, "
     "RLIMIT_NPROC, RLIMIT_RSS, RLIMIT_RTPRIO, RLIMIT_RTTIME, RLIMIT_SIGPENDING, RLIMIT_STACK)"),
    ("rlimit soft>hard", setp("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]),
     "process.rlimits[0] soft limit 2048 is greater than the hard limit 1024 (RLIMIT_NOFILE)"),
    ("rlimit twice", setp("process.rlimits", [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}] * 2),
     'process.rlimits[1].type "RLIMIT_CORE" is given twice (first at process.rlimits[0])'),
    ("rlimit negative", setp("process.rlimits", [{"type": "RLIMIT_CORE", "soft": -1, "hard": 0}]),
     "process.rlimits[0].soft must not be negative, got -1"),
    ("rlimit hard missing", setp("process.rlimits", [{"type": "RLIMIT_CORE", "soft": 0}]),
     "process.rlimits[0].hard is required"),
    ("nnp string", setp("process.noNewPrivileges", "true"),
     'process.noNewPrivileges must be a boolean (true or false), got "true" (a string)'),
    ("oom score", setp("process.oomScoreAdj", 1001), "process.oomScoreAdj must be at most 1000, got 1001"),
    ("io priority class", setp("process.ioPriority", {"class": "RT", "priority": 1}),
     'process.ioPriority.class "RT" is not an I/O priority class (allowed: IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE, '
     "IOPRIO_CLASS_RT)"),
    ("io priority level", setp("process.ioPriority", {"class": "IOPRIO_CLASS_BE", "priority": 8}),
     "process.ioPriority.priority must be at most 7, got 8"),
    ("scheduler nice", setp("process.scheduler", {"policy": "SCHED_OTHER", "nice": -21}),
     "process.scheduler.nice must be at least -20, got -21"),
    ("scheduler policy missing", setp("process.scheduler", {"nice": 1}), "process.scheduler.policy is required"),
    ("cpu affinity", setp("process.execCPUAffinity", {"initial": "3-1"}),
     'process.execCPUAffinity.initial "3-1" is not a CPU list (like 0-3,7)'),
    # hooks
    ("hook relative", setp("hooks", {"prestart": [{"path": "hook"}]}), 'hooks.prestart[0].path "hook" must be an absolute path'),
    ("hook no path", setp("hooks", {"poststop": [{"args": []}]}), "hooks.poststop[0].path is required"),
    ("hook timeout zero", setp("hooks", {"createRuntime": [{"path": "/h", "timeout": 0}]}),
     "hooks.createRuntime[0].timeout must be a positive number of seconds, got 0"),
    ("hook env", setp("hooks", {"poststart": [{"path": "/h", "env": ["X"]}]}),
     'hooks.poststart[0].env[0] "X" must have the form NAME=value'),
    # linux: namespaces and ids
    ("linux missing", delp("linux"), "linux is required (pallet runs Linux containers)"),
    ("namespace type", setp("linux.namespaces[2]", {"type": "foo"}),
     f'linux.namespaces[2].type "foo" is not a namespace type {NS_ALLOWED}'),
    ("namespace twice", setp("linux.namespaces[3]", {"type": "pid"}),
     'linux.namespaces[3].type "pid" is given twice (first at linux.namespaces[0])'),
    ("namespace path relative", setp("linux.namespaces[1]", {"type": "network", "path": "ns/net"}),
     'linux.namespaces[1].path "ns/net" must be an absolute path'),
    ("no mount namespace", lambda d: ns(d, "pid", "uts"),
     'linux.namespaces must hold a mount namespace (the container\'s mounts need one): add {"type": "mount"} to '
     "linux.namespaces"),
    ("mappings without userns", setp("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}]),
     'linux.uidMappings needs a user namespace: add {"type": "user"} to linux.namespaces'),
    ("userns without mappings", lambda d: d["linux"]["namespaces"].append({"type": "user"}),
     "linux.uidMappings is required to create a user namespace (give at least one mapping)"),
    ("mapping size zero", both(userns, setp("linux.uidMappings[0].size", 0)),
     "linux.uidMappings[0].size must be at least 1, got 0"),
    ("mapping size negative", both(userns, setp("linux.gidMappings[0].size", -5)),
     "linux.gidMappings[0].size must be at least 1, got -5"),
    ("mapping overlap", both(userns, setp("linux.uidMappings", [{"containerID": 0, "hostID": 1, "size": 10},
                                                              {"containerID": 5, "hostID": 100, "size": 1}])),
     "linux.uidMappings[1] overlaps linux.uidMappings[0] in the container's ids"),
    ("mapping past the end", both(userns, setp("linux.uidMappings[0].hostID", (1 << 32) - 1)),
     f"linux.uidMappings[0] hostID {(1 << 32) - 1} + size 65536 goes past the last id {(1 << 32) - 1}"),
    ("uid not mapped", both(userns, setp("process.user.uid", 70000)),
     "process.user.uid 70000 is not mapped by linux.uidMappings"),
    ("time offsets without time ns", setp("linux.timeOffsets", {"monotonic": {"secs": 1}}),
     'linux.timeOffsets needs a time namespace: add {"type": "time"} to linux.namespaces'),
    ("time offsets clock", both(lambda d: d["linux"]["namespaces"].append({"type": "time"}),
                                setp("linux.timeOffsets", {"realtime": {"secs": 1}})),
     "linux.timeOffsets.realtime is not a clock with an offset (allowed: boottime, monotonic)"),
    # devices
    ("device type", setp("linux.devices", [{"type": "x", "path": "/dev/x"}]),
     'linux.devices[0].type "x" is not a device type (allowed: b, c, p, u)'),
    ("device major missing", setp("linux.devices", [{"type": "c", "path": "/dev/x", "minor": 1}]),
     "linux.devices[0].major is required"),
    ("device path relative", setp("linux.devices", [{"type": "p", "path": "dev/fifo"}]),
     'linux.devices[0].path "dev/fifo" must be an absolute path'),
    ("device mode", setp("linux.devices", [{"type": "p", "path": "/dev/f", "fileMode": 0o10000}]),
     "linux.devices[0].fileMode must be at most 4095, got 4096"),
    ("cgroups path escape", setp("linux.cgroupsPath", "pallet/../../x"),
     'linux.cgroupsPath "pallet/../../x" must not contain .. (it would leave the cgroup root)'),
    # resources
    ("device rule access", setp("linux.resources.devices", [{"allow": True, "access": "rwx"}]),
     'linux.resources.devices[0].access "rwx" must be made of r, w and m, each at most once'),
    ("device rule allow", setp("linux.resources.devices", [{"access": "r"}]), "linux.resources.devices[0].allow is required"),
    ("memory negative", setp("linux.resources.memory", {"limit": -5}),
     "linux.resources.memory.limit must be a number of bytes or -1 (unlimited), got -5"),
    ("memory swap below limit", setp("linux.resources.memory", {"limit": 200, "swap": 100}),
     "linux.resources.memory.swap 100 must be at least linux.resources.memory.limit 200 (swap counts memory plus swap)"),
    ("swappiness", setp("linux.resources.memory", {"swappiness": 101}),
     "linux.resources.memory.swappiness must be at most 100, got 101"),
    ("cpu shares negative", setp("linux.resources.cpu", {"shares": -1}), "linux.resources.cpu.shares must not be negative, got -1"),
    ("cpuset", setp("linux.resources.cpu", {"cpus": "0,a"}), 'linux.resources.cpu.cpus "0,a" is not a CPU list (like 0-3,7)'),
    ("pids string", setp("linux.resources.pids", {"limit": "10"}), 'linux.resources.pids.limit must be an integer, got "10"'),
    ("blkio weight", setp("linux.resources.blockIO", {"weight": 70000}),
     "linux.resources.blockIO.weight must be at most 65535, got 70000"),
    ("throttle rate", setp("linux.resources.blockIO", {"throttleReadBpsDevice": [{"major": 8, "minor": 0}]}),
     "linux.resources.blockIO.throttleReadBpsDevice[0].rate is required"),
    ("hugepage size", setp("linux.resources.hugepageLimits", [{"pageSize": "2M", "limit": 1}]),
     'linux.resources.hugepageLimits[0].pageSize "2M" is not a page size (like 2MB or 1GB)'),
    ("net prio", setp("linux.resources.network", {"priorities": [{"name": "eth0", "priority": -1}]}),
     "linux.resources.network.priorities[0].priority must not be negative, got -1"),
    ("rdma", setp("linux.resources.rdma", {"mlx": {"hcaHandles": "3"}}),
     'linux.resources.rdma["mlx"].hcaHandles must be an integer, got "3"'),
    ("unified key", setp("linux.resources.unified", {"memorymax": "1"}),
     'linux.resources.unified["memorymax"] is not a cgroup v2 file name (controller.file, like memory.max)'),
    ("unified escape", setp("linux.resources.unified", {"../memory.max": "1"}),
     'linux.resources.unified["../memory.max"] is not a cgroup v2 file name (controller.file, like memory.max)'),
    # sysctl
    ("sysctl net without netns", both(lambda d: ns(d, "mount", "ipc", "uts"), setp("linux.sysctl", {"net.ipv4.ip_forward": "1"})),
     'linux.sysctl["net.ipv4.ip_forward"] needs a network namespace: add {"type": "network"} to '
     "linux.namespaces"),
    ("sysctl net in host netns", both(setp("linux.namespaces[1]", {"type": "network", "path": "/proc/self/ns/net"}),
                                      setp("linux.sysctl", {"net.ipv4.ip_forward": "1"})),
     'linux.sysctl["net.ipv4.ip_forward"] needs a network namespace that is not the host\'s '
     "(linux.namespaces[1].path /proc/self/ns/net is the host's)"),
    ("sysctl ipc without ipcns", both(lambda d: ns(d, "mount", "uts"), setp("linux.sysctl", {"kernel.msgmax": "1"})),
     'linux.sysctl["kernel.msgmax"] needs an ipc namespace: add {"type": "ipc"} to linux.namespaces'),
    ("sysctl mqueue without ipcns", both(lambda d: ns(d, "mount", "uts"), setp("linux.sysctl", {"fs.mqueue.msg_max": "1"})),
     'linux.sysctl["fs.mqueue.msg_max"] needs an ipc namespace: add {"type": "ipc"} to linux.namespaces'),
    ("sysctl hostname without uts", both(lambda d: ns(d, "mount"), delp("hostname"),
                                         setp("linux.sysctl", {"kernel.hostname": "x"})),
     'linux.sysctl["kernel.hostname"] needs a uts namespace: add {"type": "uts"} to linux.namespaces'),
    ("sysctl hostname and hostname", setp("linux.sysctl", {"kernel.hostname": "x"}),
     'linux.sysctl["kernel.hostname"] conflicts with the hostname field: set only one of them'),
    ("sysctl host-wide", setp("linux.sysctl", {"vm.swappiness": "1"}),
     'linux.sysctl["vm.swappiness"] is not namespaced: setting it would change the host (allowed: net.*, '
     "fs.mqueue.*, kernel.msg*, kernel.sem*, kernel.shm*, kernel.hostname, kernel.domainname)"),
    ("sysctl value", setp("linux.sysctl", {"net.ipv4.ip_forward": 1}),
     'linux.sysctl["net.ipv4.ip_forward"] must be a string, got 1 (a number)'),
    # seccomp
    ("seccomp default missing", setp("linux.seccomp", {}), "linux.seccomp.defaultAction is required"),
    ("seccomp action", setp("linux.seccomp", {"defaultAction": "SCMP_ACT_DENY"}),
     'linux.seccomp.defaultAction "SCMP_ACT_DENY" is not a seccomp action (allowed: SCMP_ACT_ALLOW, '
     "SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_LOG, SCMP_ACT_NOTIFY, "
     "SCMP_ACT_TRACE, SCMP_ACT_TRAP)"),
    ("seccomp default notify", setp("linux.seccomp", {"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/s"}),
     "linux.seccomp.defaultAction must not be SCMP_ACT_NOTIFY (the runtime itself would be stopped)"),
    ("seccomp arch", setp("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"]}),
     'linux.seccomp.architectures[0] "x86_64" is not a seccomp architecture (allowed: SCMP_ARCH_AARCH64, '
     "SCMP_ARCH_ARM, SCMP_ARCH_LOONGARCH64, SCMP_ARCH_M68K, SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64, SCMP_ARCH_MIPS64N32, "
     "SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64, SCMP_ARCH_MIPSEL64N32, SCMP_ARCH_PARISC, SCMP_ARCH_PARISC64, "
     "SCMP_ARCH_PPC, SCMP_ARCH_PPC64, SCMP_ARCH_PPC64LE, SCMP_ARCH_RISCV64, SCMP_ARCH_S390, SCMP_ARCH_S390X, "
     "SCMP_ARCH_SH, SCMP_ARCH_SHEB, SCMP_ARCH_X32, SCMP_ARCH_X86, SCMP_ARCH_X86_64)"),
    ("seccomp names empty", setp("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW",
                                                   "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}),
     "linux.seccomp.syscalls[0].names must not be empty"),
    ("seccomp arg index", setp("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}),
     "linux.seccomp.syscalls[0].args[0].index must be at most 5, got 6"),
    ("seccomp arg op", setp("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 0, "op": "EQ"}]}]}),
     'linux.seccomp.syscalls[0].args[0].op "EQ" is not a seccomp comparison (allowed: SCMP_CMP_EQ, SCMP_CMP_GE, '
     "SCMP_CMP_GT, SCMP_CMP_LE, SCMP_CMP_LT, SCMP_CMP_MASKED_EQ, SCMP_CMP_NE)"),
    ("seccomp notify without listener", setp("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
     "linux.seccomp.listenerPath is required when a rule uses SCMP_ACT_NOTIFY (linux.seccomp.syscalls[0].action)"),
    # paths and the rest
    ("propagation", setp("linux.rootfsPropagation", "recursive"),
     'linux.rootfsPropagation "recursive" is not a propagation (allowed: private, rprivate, rshared, rslave, '
     "runbindable, shared, slave, unbindable)"),
    ("masked relative", setp("linux.maskedPaths", ["proc/kcore"]), 'linux.maskedPaths[0] "proc/kcore" must be an absolute path'),
    ("readonly not list", setp("linux.readonlyPaths", "/proc"), 'linux.readonlyPaths must be an array, got "/proc" (a string)'),
    ("personality", setp("linux.personality", {"domain": "LINUX64"}),
     'linux.personality.domain "LINUX64" is not an execution domain (allowed: LINUX, LINUX32)'),
    ("intel rdt clos", setp("linux.intelRdt", {"closID": "../x"}),
     'linux.intelRdt.closID "../x" must be a plain name (no / and not . or ..)'),
    ("net devices without netns", both(lambda d: ns(d, "mount", "uts"), setp("linux.netDevices", {"eth1": {}})),
     'linux.netDevices needs a network namespace: add {"type": "network"} to linux.namespaces'),
]


@pytest.mark.parametrize(("mutate", "message"), [(m, msg) for _, m, msg in BAD], ids=[name for name, _, _ in BAD])
def test_bad_config_gets_its_message(mutate: Callable[[Doc], None], message: str) -> None:
    doc: Doc = default_spec()
    validate_config(doc)  # the base document is valid
    mutate(doc)
    with pytest.raises(ValidationError) as info:
        validate_config(doc)
    assert str(info.value) == message
    assert message.startswith(info.value.path)


@pytest.mark.parametrize("value", [None, [], "x", 3])
def test_config_must_be_an_object(value: object) -> None:
    with pytest.raises(ValidationError, match=r"^config must be a JSON object, got "):
        validate_config(value)


def test_good_variants_pass() -> None:
    doc: Doc = default_spec()
    doc["ociVersion"] = "1.0.2-dev"
    doc["process"]["capabilities"]["bounding"] = ["KILL", "CAP_CHOWN"]  # with and without CAP_
    doc["process"]["rlimits"].append({"type": "RLIMIT_CORE", "soft": 0, "hard": (1 << 64) - 1})
    doc["process"]["env"] = ["A=", "B==c"]
    doc["process"]["user"]["additionalGids"] = None  # null is absent
    doc["linux"]["sysctl"] = {"net/ipv4/ip_forward": "1", "kernel.sem": "1 2 3 4"}
    doc["linux"]["resources"]["memory"] = {"limit": -1, "swap": -1}
    doc["linux"]["namespaces"][1]["path"] = "/var/run/netns/x"  # not the host's: may not even exist yet
    doc["mounts"] = []
    validate_config(doc)
    del doc["mounts"]
    validate_config(doc)


def test_a_joined_user_namespace_needs_no_mappings() -> None:
    doc: Doc = default_spec()
    doc["linux"]["namespaces"].append({"type": "user", "path": "/proc/1/ns/user"})
    validate_config(doc)


def test_root_path_is_checked_against_the_bundle(tmp_path: Path) -> None:
    doc: Doc = default_spec()
    with pytest.raises(ValidationError) as info:
        validate_config(doc, bundle=str(tmp_path))
    assert str(info.value) == f'root.path "rootfs" does not exist (looked for {tmp_path}/rootfs)'
    (tmp_path / "rootfs").write_text("")
    with pytest.raises(ValidationError, match=r'^root.path "rootfs" is not a directory'):
        validate_config(doc, bundle=str(tmp_path))
    os.unlink(tmp_path / "rootfs")
    (tmp_path / "rootfs").mkdir()
    validate_config(doc, bundle=str(tmp_path))
    doc["root"]["path"] = str(tmp_path / "rootfs")  # an absolute root.path is used as is
    validate_config(doc, bundle="/nonexistent")


def test_validate_process_names_the_path_it_is_given() -> None:
    with pytest.raises(ValidationError) as info:
        validate_process({"args": [], "cwd": "/"}, "process.json")
    assert str(info.value) == "process.json.args must not be empty"
    with pytest.raises(ValidationError, match=r'^process must be an object, got \["sh"\] \(an array\)$'):
        validate_process(["sh"])


def test_long_values_are_shortened_in_messages() -> None:
    doc: Doc = default_spec()
    doc["process"]["cwd"] = "x" * 500
    with pytest.raises(ValidationError) as info:
        validate_config(doc)
    assert len(str(info.value)) < 150
    assert str(info.value).startswith('process.cwd "xxxx') and "..." in str(info.value)
