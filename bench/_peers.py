"""Peers for the image benchmarks: a private dockerd, a private podman, and the host checks after them.

dockerd is not running on this machine (and must not be left running).  ``docker_daemon()`` starts one
of its own: every directory (``--data-root``, ``--exec-root``, ``--pidfile``, the ``-H unix://``
socket, the ``--config-file``) inside a temporary directory, with ``--bridge none``,
``--iptables=false``, ``--ip6tables=false``, ``--ip-forward=false``, ``--ip-masq=false``, so that it
touches no host networking.  It stops the daemon at the end, ends what it left (found by our
directory in its command line), unmounts what is mounted below our directory, removes it all, and
reports any docker link, nftables docker chain or mount that was not there before.

Where no ``dockerd`` is on PATH, Debian's ``docker.io`` and ``containerd`` packages are fetched with
``apt-get download`` into the bench cache and unpacked there with ``dpkg-deb -x`` (nothing is
installed, so no service starts).

``podman_env()`` gives podman a private storage.conf (overlay, graph and run roots in our directory)
and containers.conf (cgroupfs, ulimits under this host's hard limits: see FIELD-NOTES), through
CONTAINERS_CONF / CONTAINERS_STORAGE_CONF, and resets that storage at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

CACHE = Path(os.environ.get("PALLET_BENCH_CACHE", str(Path.home() / ".cache" / "pallet-bench")))


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload, no-any-return]


def docker_bin_dirs() -> list[str] | None:
    """Directories holding dockerd and containerd (the host's, or unpacked into the cache); None if none."""
    if shutil.which("dockerd") and shutil.which("containerd"):
        return []
    root = CACHE / "docker-root"
    dirs = [str(root / "usr" / "sbin"), str(root / "usr" / "bin")]
    if (root / "usr" / "sbin" / "dockerd").exists():
        return dirs
    if not shutil.which("apt-get"):
        return None
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    got = _run(["apt-get", "download", "-q", "docker.io", "containerd"], cwd=debs)
    if got.returncode != 0:
        print(f"docker: cannot fetch Debian's docker.io package: {got.stderr.strip()[-300:]}")
        return None
    tmp = Path(tempfile.mkdtemp(prefix="docker-root.", dir=CACHE))
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
    tmp.rename(root)
    return dirs


# What docker, containerd and podman make on the host on their first use, whatever roots they are
# given (plugin and shim sockets, podman's IPAM database and blob-info cache, short-name lock).
PEER_HOST_DIRS = ("/run/docker", "/run/containerd", "/run/containers", "/var/lib/containers",
                  "/var/cache/containers")
PEER_CGROUPS = ("docker", "libpod_parent")  # what dockerd and conmon make under cgroupfs


def _peer_cgroups() -> set[str]:
    out = set()
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        for name in PEER_CGROUPS:
            path = os.path.join("/sys/fs/cgroup", hierarchy, name)
            if os.path.isdir(path):
                out.add(path)
    return out


def _remove_cgroups(paths: set[str]) -> None:
    """rmdir these cgroups, their (empty) children first; a cgroup with processes stays."""
    for top in sorted(paths):
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda e: -len(e[0])):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)


@contextlib.contextmanager
def peer_host_dirs_removed() -> Iterator[None]:
    """Remove, at the end, those of PEER_HOST_DIRS, /run/netns and the peers' parent cgroups
    (PEER_CGROUPS, in every hierarchy) that the block made."""
    cgroups_before = _peer_cgroups()
    before = {d for d in (*PEER_HOST_DIRS, "/run/netns") if os.path.lexists(d)}
    try:
        yield
    finally:
        # conmon starts `podman container cleanup` after a container exits: let those finish first
        # (they make /run/netns again), for up to 10 s.
        deadline = time.monotonic() + 10
        while _procs_named(("podman", "conmon", "netavark", "aardvark-dns")) and time.monotonic() < deadline:
            time.sleep(0.1)
        for d in PEER_HOST_DIRS:
            if d not in before and os.path.lexists(d):
                shutil.rmtree(d, ignore_errors=True)
        # podman's namespaces directory, bind-mounted onto itself: only if made here and empty
        netns = "/run/netns"
        if netns not in before and os.path.isdir(netns) and not os.listdir(netns):
            for _ in range(8):  # bound onto itself (same device: os.path.ismount cannot tell), maybe stacked
                if not _is_mountpoint(netns) or subprocess.run(["umount", netns]).returncode:
                    break
            with contextlib.suppress(OSError):
                os.rmdir(netns)
        _remove_cgroups(_peer_cgroups() - cgroups_before)


def _is_mountpoint(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def _pids_where(proc_file: str, test: Callable[[bytes], bool]) -> list[int]:
    """The pids (other than ours) whose /proc/PID/``proc_file`` passes ``test``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/{proc_file}", "rb") as f:
                if test(f.read()):
                    out.append(int(entry))
        except OSError:
            continue
    return out


def _procs_named(names: tuple[str, ...]) -> list[int]:
    return _pids_where("comm", lambda comm: comm.strip().decode(errors="replace") in names)


def _host_state(mark: str) -> dict[str, set[str]]:
    links = _run(["ip", "-o", "link", "show"]).stdout
    nft = _run(["nft", "list", "ruleset"]).stdout
    with open("/proc/self/mountinfo") as f:
        mounts = {line.split()[4] for line in f if mark in line.split()[4]}
    return {
        "links": {ln.split(":")[1].strip().split("@")[0] for ln in links.splitlines()
                  if ln.split(":")[1].strip().startswith(("docker", "veth", "br-"))},
        "nft chains": {ln.strip() for ln in nft.splitlines() if "chain" in ln and "DOCKER" in ln},
        "mounts": mounts,
    }


def _pids_mentioning(mark: str) -> list[int]:
    return _pids_where("cmdline", lambda cmdline: mark.encode() in cmdline)


@contextlib.contextmanager
def docker_daemon(work: Path, insecure: list[str], *, bridge: bool = False) -> Iterator[list[str]]:
    """A private dockerd for the block; yields the ``docker -H unix://...`` command prefix.  With
    ``bridge``, its default bridge (docker0, no firewall rules) for containers on the default network;
    deleted at the end."""
    dirs = docker_bin_dirs()
    if dirs is None or not shutil.which("docker"):
        raise RuntimeError("docker: no dockerd (and no way to fetch Debian's) or no docker CLI")
    if bridge and "docker0" in _run(["ip", "-o", "link", "show"]).stdout:
        raise RuntimeError("a docker0 bridge exists already (another dockerd?): not starting one beside it")
    home = Path(tempfile.mkdtemp(prefix="pallet-bench-dockerd.", dir=work))
    mark = str(home)
    before = _host_state(mark)
    (home / "daemon.json").write_text("{}\n")
    sock = home / "docker.sock"
    env = dict(os.environ, PATH=os.pathsep.join([*dirs, os.environ.get("PATH", "")]))
    cmd = ["dockerd", "--config-file", str(home / "daemon.json"), "--data-root", str(home / "data"),
           "--exec-root", str(home / "exec"), "--pidfile", str(home / "docker.pid"), "-H", f"unix://{sock}",
           "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
           "--userland-proxy=false", "--storage-driver", "overlay2", "--log-level", "error"]
    if not bridge:
        cmd += ["--bridge", "none"]
    for host in insecure:
        cmd += ["--insecure-registry", host]
    log = open(home / "dockerd.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    docker = ["docker", "-H", f"unix://{sock}"]
    try:
        deadline = time.monotonic() + 60
        while _run([*docker, "version"]).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start: {(home / 'dockerd.log').read_text()[-500:]}")
            time.sleep(0.2)
        yield docker
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        for pid in _pids_mentioning(mark):  # containerd or shims it left: ours by their command line
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        time.sleep(0.2)
        if bridge:
            _run(["ip", "link", "del", "docker0"])
        after = _host_state(mark)
        for target in sorted(after["mounts"], key=len, reverse=True):
            _run(["umount", "-l", target])
        shutil.rmtree(home, ignore_errors=True)
        left = {k: sorted(after[k] - before[k]) for k in ("links", "nft chains")}
        left["mounts"] = sorted(_host_state(mark)["mounts"])
        left["processes"] = [str(p) for p in _pids_mentioning(mark)]
        problems = {k: v for k, v in left.items() if v}
        print("docker: stopped; its data removed; " + (f"LEFT ON THE HOST: {problems}" if problems else
              "no docker link, nftables chain, mount or process left"))


@contextlib.contextmanager
def podman_env(work: Path) -> Iterator[list[str]]:
    """podman with a private storage and containers.conf for the block; yields the command prefix."""
    if not shutil.which("podman"):
        raise RuntimeError("podman: not installed")
    home = Path(tempfile.mkdtemp(prefix="pallet-bench-podman.", dir=work))
    (home / "containers.conf").write_text(
        '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
        '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n')
    (home / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{home}/root"\nrunroot = "{home}/run"\n')
    saved = {k: os.environ.get(k) for k in ("CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF")}
    os.environ["CONTAINERS_CONF"] = str(home / "containers.conf")
    os.environ["CONTAINERS_STORAGE_CONF"] = str(home / "storage.conf")
    try:
        yield ["podman"]
    finally:
        _run(["podman", "system", "reset", "-f"])
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        with open("/proc/self/mountinfo") as f:
            for target in sorted((ln.split()[4] for ln in f if str(home) in ln.split()[4]), key=len, reverse=True):
                _run(["umount", "-l", target])
        shutil.rmtree(home, ignore_errors=True)


def empty_docker(docker: list[str]) -> None:
    """Remove every container and image of the private dockerd (its store is empty again)."""
    ids = _run([*docker, "ps", "-aq"]).stdout.split()
    if ids:
        _run([*docker, "rm", "-f", *ids])
    ids = _run([*docker, "images", "-aq"]).stdout.split()
    if ids:
        _run([*docker, "rmi", "-f", *sorted(set(ids))])


def empty_podman(podman: list[str]) -> None:
    _run([*podman, "rm", "-af"])
    _run([*podman, "rmi", "-af"])


def du(path: Path | str) -> int:
    """Bytes of disk that the tree uses (hard links counted once, not following other mounts)."""
    out = _run(["du", "-sxB1", str(path)])
    return int(out.stdout.split()[0]) if out.returncode == 0 else 0


def compile_sources(*extra: str) -> None:
    """Write current .pyc files for pallet's src/ (and ``extra`` source trees), and the launchers'
    module index of src/: this environment may set PYTHONDONTWRITEBYTECODE, and without them every
    pallet call recompiles what changed since they were last written (milliseconds per module, on
    every timed run)."""
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for src in (os.path.join(repo, "src"), *extra):
        subprocess.run([sys.executable, "-m", "compileall", "-q", src], check=True, stdout=subprocess.DEVNULL)
    # The launchers' module index holds the modules' code too: a module edited since setup would be
    # loaded from its source (correct, but slower than what is measured should be).
    subprocess.run([sys.executable, "-m", "pallet.modindex", "write", os.path.join(repo, ".venv", "pallet-modules.idx")],
                   check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=os.path.join(repo, "src")))
