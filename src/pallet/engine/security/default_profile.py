"""pallet's default seccomp profile, in docker's profile format, built here from the facts.

An allowlist: everything not listed fails with EPERM.  What it keeps out of a default container is
what docker's default keeps out: mounting and namespace games (mount, umount2, unshare, setns,
clone with namespace flags, clone3 -> ENOSYS so that the C library falls back to clone), the
kernel keyring (keyctl, add_key, request_key), bpf, perf_event_open, userfaultfd, module and kexec
loading, io_uring (its own path around the filter), reboot, swap, the clock, process accounting, pivot_root, syslog, open_by_handle_at,
personality values other than the harmless ones, and the AF_ALG and AF_VSOCK socket families.
Groups that a capability makes legitimate are allowed when the container has that capability
(``includes.caps``), and architecture-specific calls on their architectures (``includes.arches``).
"""

from __future__ import annotations

# Calls any process needs, grouped by what they touch.  Names of every architecture are listed
# together: a name the filter's architectures do not have is skipped when the filter is built.
_FILES = """
    access faccessat faccessat2 open openat openat2 creat close close_range read readv pread64 preadv preadv2
    write writev pwrite64 pwritev pwritev2 lseek _llseek stat stat64 lstat lstat64 fstat fstat64 fstatat64
    newfstatat statx statfs statfs64 fstatfs fstatfs64 truncate truncate64 ftruncate ftruncate64 fallocate
    fadvise64 fadvise64_64 readahead fsync fdatasync sync syncfs sync_file_range copy_file_range sendfile
    sendfile64 splice tee vmsplice dup dup2 dup3 fcntl fcntl64 flock ioctl getdents getdents64 chdir fchdir
    getcwd mkdir mkdirat mknod mknodat rmdir rename renameat renameat2 link linkat symlink symlinkat unlink
    unlinkat readlink readlinkat chmod fchmod fchmodat fchmodat2 chown chown32 fchown fchown32 fchownat lchown
    lchown32 umask utime utimes utimensat utimensat_time64 futimesat name_to_handle_at
    getxattr lgetxattr fgetxattr setxattr lsetxattr fsetxattr listxattr llistxattr flistxattr removexattr
    lremovexattr fremovexattr inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark
    io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents io_pgetevents_time64
"""
_MEMORY = """
    brk mmap mmap2 munmap mremap mprotect madvise mincore msync mlock mlock2 mlockall munlock munlockall
    remap_file_pages memfd_create memfd_secret membarrier pkey_alloc pkey_free pkey_mprotect
    map_shadow_stack mseal
"""
_PROCESSES = """
    fork vfork execve execveat exit exit_group wait4 waitid waitpid kill tkill tgkill getpid getppid gettid
    getpgid setpgid getpgrp getsid setsid getuid getuid32 geteuid geteuid32 getgid getgid32 getegid getegid32
    getresuid getresuid32 getresgid getresgid32 getgroups getgroups32 setuid setuid32 setgid setgid32
    setreuid setreuid32 setregid setregid32 setresuid setresuid32 setresgid setresgid32 setfsuid setfsuid32
    setfsgid setfsgid32 setgroups setgroups32 capget capset prctl seccomp getrlimit setrlimit ugetrlimit
    prlimit64 getrusage getpriority setpriority ioprio_get ioprio_set sched_yield sched_getaffinity
    sched_setaffinity sched_getattr sched_setattr sched_getparam sched_setparam sched_getscheduler
    sched_setscheduler sched_get_priority_max sched_get_priority_min sched_rr_get_interval
    sched_rr_get_interval_time64 set_tid_address set_robust_list get_robust_list rseq get_thread_area
    set_thread_area getcpu pidfd_open pidfd_send_signal process_mrelease restart_syscall
    landlock_create_ruleset landlock_add_rule landlock_restrict_self
"""
_SIGNALS_AND_TIME = """
    rt_sigaction rt_sigprocmask rt_sigpending rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
    rt_sigqueueinfo rt_tgsigqueueinfo rt_sigreturn sigreturn sigaltstack sigprocmask signalfd signalfd4 pause
    alarm getitimer setitimer nanosleep clock_nanosleep clock_nanosleep_time64 clock_gettime clock_gettime64
    clock_getres clock_getres_time64 gettimeofday time times adjtimex clock_adjtime clock_adjtime64
    timer_create timer_delete timer_gettime timer_gettime64 timer_settime timer_settime64 timer_getoverrun
    timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64
"""
_WAITING = """
    futex futex_time64 futex_waitv futex_wake futex_wait futex_requeue poll ppoll ppoll_time64 select
    _newselect pselect6 pselect6_time64 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_wait
    epoll_wait_old epoll_pwait epoll_pwait2 eventfd eventfd2 pipe pipe2
"""
_IPC_AND_NET = """
    socketpair socketcall bind connect listen accept accept4 getsockname getpeername getsockopt setsockopt
    shutdown send sendto sendmsg sendmmsg recv recvfrom recvmsg recvmmsg recvmmsg_time64
    ipc msgget msgsnd msgrcv msgctl semget semop semtimedop semtimedop_time64 semctl shmget shmat shmdt shmctl
    mq_open mq_unlink mq_timedsend mq_timedsend_time64 mq_timedreceive mq_timedreceive_time64 mq_notify
    mq_getsetattr
"""
_SYSTEM_INFO = "uname sysinfo getrandom cachestat"

# Calls a capability makes legitimate: allowed only when the container has it.
_BY_CAPABILITY: dict[str, str] = {
    "CAP_SYS_ADMIN": """
        mount umount umount2 unshare setns clone clone3 fsopen fsconfig fsmount fspick open_tree move_mount
        mount_setattr sethostname setdomainname quotactl quotactl_fd lookup_dcookie fanotify_init bpf
        perf_event_open syslog
    """,
    "CAP_SYS_BOOT": "reboot",
    "CAP_SYS_CHROOT": "chroot",
    "CAP_SYS_MODULE": "init_module finit_module delete_module",
    "CAP_SYS_PACCT": "acct",
    "CAP_SYS_PTRACE": "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
    "CAP_SYS_RAWIO": "iopl ioperm",
    "CAP_SYS_TIME": "settimeofday stime clock_settime clock_settime64",
    "CAP_SYS_TTY_CONFIG": "vhangup",
    "CAP_SYS_NICE": "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    "CAP_SYSLOG": "syslog",
    "CAP_BPF": "bpf",
    "CAP_PERFMON": "perf_event_open",
    "CAP_DAC_READ_SEARCH": "open_by_handle_at",
}

# Calls of one architecture family (docker's architecture names, as Go spells them).
_BY_ARCH: list[tuple[tuple[str, ...], str]] = [
    (("amd64", "x32"), "arch_prctl"),
    (("amd64", "x32", "386"), "modify_ldt"),
    (("arm", "arm64"), "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls"),
    (("ppc64le",), "sync_file_range2 swapcontext"),
    (("s390", "s390x"), "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr"),
    (("riscv64",), "riscv_flush_icache"),
]

# personality(2) values that change nothing dangerous: PER_LINUX, PER_LINUX32, UNAME26 with each,
# and 0xffffffff (a query of the current persona).
PERSONALITY_VALUES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
# clone(2) flags that create namespaces: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
AF_ALG = 38
AF_VSOCK = 40
ENOSYS = 38
EPERM = 1

ARCH_MAP = [
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    {"architecture": "SCMP_ARCH_MIPS64", "subArchitectures": ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"]},
    {"architecture": "SCMP_ARCH_MIPSEL64", "subArchitectures": ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"]},
    {"architecture": "SCMP_ARCH_PPC64LE", "subArchitectures": ["SCMP_ARCH_PPC64", "SCMP_ARCH_PPC"]},
    {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]},
    {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": []},
]


def _names(text: str) -> list[str]:
    return text.split()


def _allow(names: list[str], **extra: object) -> dict[str, object]:
    return {"names": names, "action": "SCMP_ACT_ALLOW", **extra}


def allowed_everywhere() -> list[str]:
    """The unconditional part of the allowlist."""
    out: list[str] = []
    for group in (_FILES, _MEMORY, _PROCESSES, _SIGNALS_AND_TIME, _WAITING, _IPC_AND_NET, _SYSTEM_INFO):
        out += _names(group)
    return out


def default_profile() -> dict[str, object]:
    """The profile as a docker seccomp profile document (what ``seccomp=FILE`` would hold)."""
    rules: list[dict[str, object]] = [_allow(allowed_everywhere(), comment="calls every program may need")]
    rules.append(_allow(["ptrace", "process_vm_readv", "process_vm_writev"],
                        includes={"minKernel": "4.8"},
                        comment="since 4.8 ptrace cannot be used to get around seccomp"))
    rules += [
        _allow(["personality"], args=[{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}], comment="harmless personas")
        for v in PERSONALITY_VALUES
    ]
    # socket(2): every family below AF_ALG, the one between (AF_NFC) and every family above AF_VSOCK.
    rules += [
        _allow(["socket"], args=[{"index": 0, "value": AF_ALG, "op": "SCMP_CMP_LT"}]),
        _allow(["socket"], args=[{"index": 0, "value": AF_ALG + 1, "op": "SCMP_CMP_EQ"}]),
        _allow(["socket"], args=[{"index": 0, "value": AF_VSOCK, "op": "SCMP_CMP_GT"}]),
    ]
    rules.append(_allow(
        ["clone"], args=[{"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
        excludes={"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]},
        comment="clone without namespace flags",
    ))
    rules.append(_allow(
        ["clone"], args=[{"index": 1, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
        includes={"arches": ["s390", "s390x"]}, excludes={"caps": ["CAP_SYS_ADMIN"]},
        comment="on s390 the flags are clone's second argument",
    ))
    rules.append({
        "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS,
        "excludes": {"caps": ["CAP_SYS_ADMIN"]},
        "comment": "its flags are behind a pointer: ENOSYS makes the C library fall back to clone",
    })
    for arches, names in _BY_ARCH:
        rules.append(_allow(_names(names), includes={"arches": list(arches)}))
    for cap, names in _BY_CAPABILITY.items():
        rules.append(_allow(_names(names), includes={"caps": [cap]}))
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "archMap": [dict(a) for a in ARCH_MAP],
        "syscalls": rules,
    }
