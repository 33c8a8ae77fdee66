"""Typed models of the OCI runtime-spec 1.2 documents: config.json, state.json, process.json.

The documents stay plain dicts (as ``json.load`` returns them); these TypedDicts only describe
their shape for mypy.  Other modules import them under ``TYPE_CHECKING`` so that the container
start path never pays for ``typing``.  Every key is optional unless marked ``Required``: the
validator (:mod:`pallet.oci.validate`) is what enforces presence and values at run time.
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

from pallet.oci.names import OCI_VERSION

NamespaceType = Literal["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]
ContainerStatus = Literal["creating", "created", "running", "stopped"]


# --- process ---------------------------------------------------------------------------------


class ConsoleSize(TypedDict):
    height: int
    width: int


class User(TypedDict, total=False):
    uid: Required[int]
    gid: Required[int]
    umask: int
    additionalGids: list[int]
    username: str


class Capabilities(TypedDict, total=False):
    bounding: list[str]
    effective: list[str]
    inheritable: list[str]
    permitted: list[str]
    ambient: list[str]


class Rlimit(TypedDict):
    type: str
    soft: int
    hard: int


# "class" is a Python keyword: the functional syntax names the key exactly.
IOPriority = TypedDict("IOPriority", {"class": Required[str], "priority": int}, total=False)


class Scheduler(TypedDict, total=False):
    policy: Required[str]
    nice: int
    priority: int
    flags: list[str]
    runtime: int
    deadline: int
    period: int


class ExecCPUAffinity(TypedDict, total=False):
    initial: str
    final: str


class Process(TypedDict, total=False):
    """``process`` of config.json, and the whole of an exec's process.json."""

    terminal: bool
    consoleSize: ConsoleSize
    user: User
    args: Required[list[str]]
    commandLine: str
    env: list[str]
    cwd: Required[str]
    capabilities: Capabilities
    rlimits: list[Rlimit]
    noNewPrivileges: bool
    apparmorProfile: str
    oomScoreAdj: int
    selinuxLabel: str
    ioPriority: IOPriority
    scheduler: Scheduler
    execCPUAffinity: ExecCPUAffinity


# --- root, mounts, hooks ----------------------------------------------------------------------


class Root(TypedDict, total=False):
    path: Required[str]
    readonly: bool


class IDMapping(TypedDict):
    containerID: int
    hostID: int
    size: int


class Mount(TypedDict, total=False):
    destination: Required[str]
    type: str
    source: str
    options: list[str]
    uidMappings: list[IDMapping]
    gidMappings: list[IDMapping]


class Hook(TypedDict, total=False):
    path: Required[str]
    args: list[str]
    env: list[str]
    timeout: int


class Hooks(TypedDict, total=False):
    prestart: list[Hook]
    createRuntime: list[Hook]
    createContainer: list[Hook]
    startContainer: list[Hook]
    poststart: list[Hook]
    poststop: list[Hook]


# --- linux ------------------------------------------------------------------------------------


class Namespace(TypedDict, total=False):
    type: Required[NamespaceType]
    path: str


class TimeOffset(TypedDict, total=False):
    secs: int
    nanosecs: int


class Device(TypedDict, total=False):
    type: Required[str]
    path: Required[str]
    major: int
    minor: int
    fileMode: int
    uid: int
    gid: int


class DeviceRule(TypedDict, total=False):
    """A device cgroup rule of ``linux.resources.devices``."""

    allow: Required[bool]
    type: str
    major: int
    minor: int
    access: str


class Memory(TypedDict, total=False):
    limit: int
    reservation: int
    swap: int
    kernel: int
    kernelTCP: int
    swappiness: int
    disableOOMKiller: bool
    useHierarchy: bool
    checkBeforeUpdate: bool


class CPU(TypedDict, total=False):
    shares: int
    quota: int
    burst: int
    period: int
    realtimeRuntime: int
    realtimePeriod: int
    cpus: str
    mems: str
    idle: int


class Pids(TypedDict):
    limit: int


class WeightDevice(TypedDict, total=False):
    major: Required[int]
    minor: Required[int]
    weight: int
    leafWeight: int


class ThrottleDevice(TypedDict):
    major: int
    minor: int
    rate: int


class BlockIO(TypedDict, total=False):
    weight: int
    leafWeight: int
    weightDevice: list[WeightDevice]
    throttleReadBpsDevice: list[ThrottleDevice]
    throttleWriteBpsDevice: list[ThrottleDevice]
    throttleReadIOPSDevice: list[ThrottleDevice]
    throttleWriteIOPSDevice: list[ThrottleDevice]


class HugepageLimit(TypedDict):
    pageSize: str
    limit: int


class InterfacePriority(TypedDict):
    name: str
    priority: int


class Network(TypedDict, total=False):
    classID: int
    priorities: list[InterfacePriority]


class Rdma(TypedDict, total=False):
    hcaHandles: int
    hcaObjects: int


class Resources(TypedDict, total=False):
    devices: list[DeviceRule]
    memory: Memory
    cpu: CPU
    pids: Pids
    blockIO: BlockIO
    hugepageLimits: list[HugepageLimit]
    network: Network
    rdma: dict[str, Rdma]
    unified: dict[str, str]


class IntelRdt(TypedDict, total=False):
    closID: str
    l3CacheSchema: str
    memBwSchema: str
    enableCMT: bool
    enableMBM: bool


class SeccompArg(TypedDict, total=False):
    index: Required[int]
    value: Required[int]
    valueTwo: int
    op: Required[str]


class SeccompSyscall(TypedDict, total=False):
    names: Required[list[str]]
    action: Required[str]
    errnoRet: int
    args: list[SeccompArg]


class Seccomp(TypedDict, total=False):
    defaultAction: Required[str]
    defaultErrnoRet: int
    architectures: list[str]
    flags: list[str]
    listenerPath: str
    listenerMetadata: str
    syscalls: list[SeccompSyscall]


class Personality(TypedDict, total=False):
    domain: Required[str]
    flags: list[str]


class NetDevice(TypedDict, total=False):
    name: str


class Linux(TypedDict, total=False):
    namespaces: list[Namespace]
    uidMappings: list[IDMapping]
    gidMappings: list[IDMapping]
    timeOffsets: dict[str, TimeOffset]
    devices: list[Device]
    netDevices: dict[str, NetDevice]
    cgroupsPath: str
    resources: Resources
    intelRdt: IntelRdt
    sysctl: dict[str, str]
    seccomp: Seccomp
    rootfsPropagation: str
    maskedPaths: list[str]
    readonlyPaths: list[str]
    mountLabel: str
    personality: Personality


# --- the documents ----------------------------------------------------------------------------


class Spec(TypedDict, total=False):
    """config.json of a bundle."""

    ociVersion: Required[str]
    root: Root
    mounts: list[Mount]
    process: Process
    hostname: str
    domainname: str
    hooks: Hooks
    annotations: dict[str, str]
    linux: Linux


class State(TypedDict, total=False):
    """The state of a container, as ``state`` prints it and hooks read it on stdin."""

    ociVersion: Required[str]
    id: Required[str]
    status: Required[ContainerStatus]
    pid: int
    bundle: Required[str]
    annotations: dict[str, str]


__all__ = [
    "CPU",
    "OCI_VERSION",
    "BlockIO",
    "Capabilities",
    "ConsoleSize",
    "ContainerStatus",
    "Device",
    "DeviceRule",
    "ExecCPUAffinity",
    "Hook",
    "Hooks",
    "HugepageLimit",
    "IDMapping",
    "IOPriority",
    "IntelRdt",
    "InterfacePriority",
    "Linux",
    "Memory",
    "Mount",
    "Namespace",
    "NamespaceType",
    "NetDevice",
    "Network",
    "Personality",
    "Pids",
    "Process",
    "Rdma",
    "Resources",
    "Rlimit",
    "Root",
    "Scheduler",
    "Seccomp",
    "SeccompArg",
    "SeccompSyscall",
    "Spec",
    "State",
    "ThrottleDevice",
    "TimeOffset",
    "User",
    "WeightDevice",
]
