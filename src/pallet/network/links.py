"""Host links and network namespaces: bridges, veth pairs, named namespaces, interface counters.

Links and addresses are made with iproute2's ``ip -batch`` (one process for many commands). A
command for the inside of a namespace runs in a process started while this thread has joined that
namespace (setns on the calling thread only, then back), so no ``nsenter`` is needed. A named
namespace is made in-process the same way: unshare the thread's network namespace, bind-mount it on
a file, return to the original.
"""

from __future__ import annotations

import os

from pallet.errors import ConflictError, RuntimeFailure

CLONE_NEWNET = 0x40000000
SYS_CLASS_NET = "/sys/class/net"


def link_exists(name: str) -> bool:
    return os.path.exists(f"{SYS_CLASS_NET}/{name}")


def run_ip_batch(lines: list[str], *, netns_fd: int | None = None, pass_fds: tuple[int, ...] = ()) -> None:
    """Run ``ip -batch -`` with ``lines``; in the namespace open at ``netns_fd`` when given."""
    import subprocess

    script = "\n".join(lines) + "\n"
    with joined_netns(netns_fd):
        proc = subprocess.run(
            ["ip", "-batch", "-"], input=script.encode(), capture_output=True, pass_fds=pass_fds, check=False
        )
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise RuntimeFailure(f"ip -batch failed: {err}\n  commands were:\n    " + "\n    ".join(lines), step="network")


class joined_netns:  # lower case: used like a function, ``with joined_netns(fd):``
    """Run the body with this thread in the network namespace open at ``netns_fd`` (None: stay).

    A class rather than contextlib.contextmanager: contextlib (with functools and collections)
    costs ~1 ms on the path of every ``run --network none``."""

    def __init__(self, netns_fd: int | None) -> None:
        self.netns_fd = netns_fd
        self.home = -1

    def __enter__(self) -> None:
        if self.netns_fd is None:
            return
        from pallet._linux.ns import setns

        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(self.netns_fd, CLONE_NEWNET)
        except BaseException:
            os.close(self.home)
            self.home = -1
            raise

    def __exit__(self, *exc: object) -> None:
        if self.home < 0:
            return
        from pallet._linux.ns import setns

        try:
            setns(self.home, CLONE_NEWNET)
        finally:
            os.close(self.home)
            self.home = -1


def open_netns(netns: str | int) -> int:
    """An fd of a network namespace given as a path or as a pid of a process in it."""
    path = f"/proc/{netns}/ns/net" if isinstance(netns, int) else netns
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RuntimeFailure(f"network namespace {netns!r} does not exist (is the container running?)",
                             step="network") from None


def create_netns(path: str) -> str:
    """A new network namespace kept alive by a bind mount on ``path`` (lo is brought up)."""
    from pallet._linux.mount import mount
    from pallet._linux.ns import setns, unshare

    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    except FileExistsError:
        raise ConflictError(f"network namespace file {path} already exists") from None
    os.close(fd)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            unshare(CLONE_NEWNET)
            try:
                loopback_up_here()
                mount("/proc/thread-self/ns/net", path, None, 0x1000)  # MS_BIND
            finally:
                setns(home, CLONE_NEWNET)
        except BaseException:
            os.unlink(path)
            raise
    finally:
        os.close(home)
    return path


def delete_netns(path: str) -> None:
    """Drop the bind mount of a namespace made by create_netns (its links go with it, in the kernel)."""
    from pallet._linux.mount import umount2

    try:
        umount2(path, 2)  # MNT_DETACH
    except OSError as e:
        if e.errno not in (22, 2):  # EINVAL: not a mount point; ENOENT: gone
            raise
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def loopback_up_here() -> None:
    """Bring up ``lo`` of the calling thread's network namespace."""
    from pallet._linux.netdev import link_up

    link_up("lo")


def set_up(name: str, *, master: str = "") -> None:
    """Bring link ``name`` of this thread's namespace up, first enslaving it to bridge ``master``."""
    from pallet._linux.netdev import link_up

    try:
        link_up(name, master=master)
    except OSError as e:
        where = f" on bridge {master}" if master else ""
        raise RuntimeFailure(f"cannot bring up {name}{where}: {e.strerror}", step="network", errno=e.errno or 0) from e


def ensure_bridge(name: str, gateway: str, prefix: int) -> None:
    """Create bridge ``name`` with the gateway address, up, if it is not there; turn on forwarding."""
    if not link_exists(name):
        # A bridge without a fixed MAC takes the lowest MAC of its ports, so it would change as veths
        # come and go and the containers' ARP entries for the gateway would go stale: fix one.
        mac = "02:" + ":".join(f"{b:02x}" for b in os.urandom(5))
        run_ip_batch([
            f"link add name {name} address {mac} type bridge",
            f"addr add {gateway}/{prefix} brd + dev {name}",
            f"link set {name} up",
        ])
    # Published ports on 127.0.0.1 are DNATed to the bridge: the kernel must route 127/8 there.
    _write_sysctl(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "1")
    _write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")


def delete_link(name: str) -> None:
    if link_exists(name):
        import subprocess

        subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)


def _write_sysctl(path: str, value: str) -> None:
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise RuntimeFailure(f"cannot set {path} to {value}: {e.strerror}", step="network", errno=e.errno or 0) from e


def interface_counters(netns: str | int) -> dict[str, dict[str, int]]:
    """Per-interface counters (docker stats' ``networks``) of a namespace, without ``lo``."""
    if isinstance(netns, int):
        with open(f"/proc/{netns}/net/dev") as f:
            text = f.read()
    else:
        fd = open_netns(netns)
        try:
            with joined_netns(fd), open("/proc/thread-self/net/dev") as f:
                text = f.read()
        finally:
            os.close(fd)
    return parse_net_dev(text)


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        name = name.strip()
        fields = rest.split()
        if name == "lo" or len(fields) < 16:
            continue
        v = [int(x) for x in fields]
        out[name] = {
            "rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
            "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11],
        }
    return out


def wait_gone(names: list[str], timeout: float = 3.0) -> None:
    """Wait until the links ``names`` are gone (the kernel deletes a dead namespace's links later)."""
    import time

    deadline = time.monotonic() + timeout
    while any(link_exists(n) for n in names) and time.monotonic() < deadline:
        time.sleep(0.01)
