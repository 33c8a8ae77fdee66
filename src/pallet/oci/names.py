"""The closed vocabularies of the runtime spec: the words a field may hold.

One place for them, read by the validator (:mod:`pallet.oci.validate`) and by the features
document (:mod:`pallet.oci.features`), so that what pallet accepts and what it says it accepts
cannot drift apart.
"""

from __future__ import annotations

OCI_VERSION = "1.2.0"
"""The runtime-spec version pallet implements and writes into the documents it produces."""

NAMESPACE_TYPES: tuple[str, ...] = ("cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts")

HOOK_NAMES: tuple[str, ...] = (
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
)

RLIMIT_TYPES: frozenset[str] = frozenset({
    "RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS",
    "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
})

DEVICE_TYPES: tuple[str, ...] = ("c", "b", "u", "p")
DEVICE_RULE_TYPES: tuple[str, ...] = ("a", "b", "c")

ROOTFS_PROPAGATIONS: tuple[str, ...] = (
    "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable",
)

IOPRIO_CLASSES: tuple[str, ...] = ("IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE")

SCHED_POLICIES: tuple[str, ...] = (
    "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE",
)
SCHED_FLAGS: tuple[str, ...] = (
    "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_KEEP_POLICY",
    "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX",
)

PERSONALITY_DOMAINS: tuple[str, ...] = ("LINUX", "LINUX32")

TIME_CLOCKS: tuple[str, ...] = ("boottime", "monotonic")

SECCOMP_ACTIONS: tuple[str, ...] = (
    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
)
SECCOMP_OPERATORS: tuple[str, ...] = (
    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
)
SECCOMP_ARCHS: tuple[str, ...] = (
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64",
)
SECCOMP_FLAGS: tuple[str, ...] = (
    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
)

# sysctls that belong to a namespace, and which one.  Any other sysctl would change the host and is
# refused (as runc does).
SYSCTL_PREFIXES: tuple[tuple[str, str], ...] = (
    ("net.", "network"),
    ("fs.mqueue.", "ipc"),
    ("kernel.msg", "ipc"),
    ("kernel.sem", "ipc"),
    ("kernel.shm", "ipc"),
)
SYSCTL_NAMES: dict[str, str] = {"kernel.hostname": "uts", "kernel.domainname": "uts"}


def sysctl_namespace(name: str) -> str | None:
    """The namespace type a sysctl (``net.ipv4.ip_forward`` or ``net/ipv4/ip_forward``) lives in."""
    name = name.replace("/", ".")
    exact = SYSCTL_NAMES.get(name)
    if exact is not None:
        return exact
    for prefix, ns in SYSCTL_PREFIXES:
        if name.startswith(prefix) and (len(name) > len(prefix) or not prefix.endswith(".")):
            return ns
    return None
