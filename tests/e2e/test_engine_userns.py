"""`pallet run --userns-remap`: a container whose root is an unprivileged uid on the host.

Every test has its own subordinate id files (PALLET_SUBUID_FILE / PALLET_SUBGID_FILE): /etc is never
touched and no host user is created.  The stores live in a directory others may search, as the
mapped root must reach the container's directory (pytest's own temporary directories are 0700).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.cli import Pallet
from tests.helpers.leaks import SESSION_TAG

MAP = ["0", "100000", "65536"]


class RemapPallet(Pallet):
    def __init__(self, base: Path) -> None:
        super().__init__(base)
        self.base = base
        self.subuid = base / "subuid"
        self.subgid = base / "subgid"
        self.subuid.write_text("pallet-remap:100000:65536\n")
        self.subgid.write_text("pallet-remap:100000:65536\n")
        self.env.update(PALLET_SUBUID_FILE=str(self.subuid), PALLET_SUBGID_FILE=str(self.subgid))

    def settings(self, **doc: str) -> None:
        (self.root / "config.json").write_text(json.dumps(doc))

    def containers(self) -> list[str]:
        d = self.root / "containers"
        return sorted(p.name for p in d.iterdir() if p.name != "names") if d.exists() else []


@pytest.fixture
def pallet() -> Iterator[RemapPallet]:
    base = Path(tempfile.mkdtemp(prefix=f"pallet-userns-{SESSION_TAG}-"))
    os.chmod(base, 0o755)
    p = RemapPallet(base)
    try:
        p.make_busybox()
        yield p
    finally:
        p.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def maps(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


def test_remapped_root_is_root_inside_and_100000_outside(pallet: RemapPallet) -> None:
    script = ("id -u; cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /bin/busybox /; "
              "touch /made && chown 1000:1000 /made && echo made; "
              "echo 1 > /sys/fs/cgroup/pids/pids.max || echo cgroup-ro; touch /sys/x || echo sys-ro")
    pallet("create", "--name", "c1", "--network", "none", "--userns-remap", "default", "busybox", "sh", "-c", script)
    out = pallet.out("start", "-a", "c1").splitlines()
    assert out[0] == "0"
    assert out[1].split() == MAP and out[2].split() == MAP
    assert out[3:5] == ["0:0", "0:0"]  # the image's files are the container root's
    assert out[5:] == ["made", "cgroup-ro", "sys-ro"]
    # What the container wrote is on disk in host ids; the shared image layer is untouched.
    upper = Path(pallet.out("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "c1"))
    st = os.stat(upper / "made")
    assert (st.st_uid, st.st_gid) == (101000, 101000)
    lower = pallet.out("inspect", "-f", "{{.GraphDriver.Data.LowerDir}}", "c1").split(":")[0]
    assert os.stat(Path(lower) / "bin" / "busybox").st_uid == 0
    # A second start mounts the same layers again: the earlier write is still the container's.
    again = pallet.out("start", "-a", "c1").splitlines()
    assert again[0] == "0" and again[5] == "made"
    # The runc binary driver gets the same config and root filesystem.
    runc = pallet.out("run", "--rm", "--runtime", "runc", "--userns-remap", "default", "busybox",
                      "sh", "-c", "id -u; cat /proc/self/uid_map")
    assert maps(runc) == [["0"], MAP]


def test_volume_and_bind_writes_land_as_the_mapped_uid(pallet: RemapPallet) -> None:
    shared = pallet.base / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    pallet("run", "--rm", "--userns-remap", "default", "-v", "vol:/data", "-v", f"{shared}:/shared", "busybox",
           "sh", "-c", "touch /data/f /shared/g && mkdir /data/d")
    data = pallet.root / "volumes" / "vol" / "_data"
    for path in (data, data / "f", data / "d", shared / "g"):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (100000, 100000), path
    # The container's own /etc files are its root's (writable inside, 100000 on the host).
    out = pallet.out("run", "--rm", "--userns-remap", "default", "busybox", "sh", "-c",
                     "echo '10.1.1.1 extra' >> /etc/hosts && stat -c %u /etc/hosts")
    assert out == "0"
    # A working directory the engine creates belongs to the container's root, as in docker.
    out = pallet.out("run", "--rm", "--userns-remap", "default", "-w", "/new/dir", "busybox", "sh", "-c",
                     "touch x && stat -c %u /new /new/dir")
    assert out.split() == ["0", "0"]


def test_remapped_root_cannot_do_what_host_root_can(pallet: RemapPallet) -> None:
    secret_dir = pallet.base / "secret"
    secret_dir.mkdir()
    (secret_dir / "key").write_text("s3cret\n")
    os.chmod(secret_dir / "key", 0o600)
    bind = ["-v", f"{secret_dir}:/secret"]
    proc = pallet("run", "--rm", "--userns-remap", "default", *bind, "busybox", "sh", "-c",
                  "cat /secret/key; echo read=$?; touch /secret/new; echo write=$?; chown 0 /secret/key; echo chown=$?")
    assert "s3cret" not in proc.stdout
    assert "read=1" in proc.stdout and "write=1" in proc.stdout and "chown=1" in proc.stdout
    assert not (secret_dir / "new").exists()
    # The same container in the host's user namespace reads it: the refusal is the mapping's.
    assert pallet.out("run", "--rm", "--userns", "host", *bind, "busybox", "cat", "/secret/key") == "s3cret"


def test_host_sees_the_mapped_uid(pallet: RemapPallet) -> None:
    cid = pallet.out("run", "-d", "--userns-remap", "default", "busybox", "sleep", "60")
    try:
        pid = pallet.out("inspect", "-f", "{{.State.Pid}}", cid)
        uids = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:"))
        assert uids.split()[1:] == ["100000"] * 4
        ps = subprocess.run(["ps", "-o", "uid=,comm=", "-p", pid], capture_output=True, text=True, check=True)
        assert ps.stdout.split() == ["100000", "sleep"]
        # exec joins the container's user namespace.
        assert maps(pallet.out("exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map")) == [["0"], MAP]
    finally:
        pallet("rm", "-f", cid)


def test_store_setting_and_opt_out(pallet: RemapPallet) -> None:
    pallet.settings(**{"userns-remap": "default"})
    assert maps(pallet.out("run", "--rm", "busybox", "cat", "/proc/self/uid_map")) == [MAP]
    assert maps(pallet.out("run", "--rm", "--userns", "host", "busybox", "cat", "/proc/self/uid_map")) == [
        ["0", "0", "4294967295"]]
    assert pallet.out("run", "--rm", "--userns", "host", "--privileged", "busybox", "id", "-u") == "0"


def test_user_group_and_explicit_mappings(pallet: RemapPallet) -> None:
    pallet.subuid.write_text("alice:200000:65536\npallet-remap:100000:65536\n")
    pallet.subgid.write_text("staff:300000:65536\n")
    out = pallet.out("run", "--rm", "--userns-remap", "alice:staff", "busybox", "cat", "/proc/self/uid_map",
                     "/proc/self/gid_map")
    assert maps(out) == [["0", "200000", "65536"], ["0", "300000", "65536"]]
    pallet.subgid.write_text("staff:300000:65536\nothers:100000:65536\n")
    out = pallet.out("run", "--rm", "--userns-remap", "0:100000:1000,1000:101000:1000", "busybox",
                     "cat", "/proc/self/uid_map")
    assert maps(out) == [["0", "100000", "1000"], ["1000", "101000", "1000"]]


def test_chown_copy_fallback_is_cached_per_mapping(pallet: RemapPallet) -> None:
    pallet.settings(**{"userns-remap": "default", "userns-rootfs": "copy"})
    script = "id -u; stat -c %u /bin/busybox; touch /x && echo ok"
    assert pallet.out("run", "--rm", "busybox", "sh", "-c", script).splitlines() == ["0", "0", "ok"]
    copies = list((pallet.root / "userns").iterdir())
    assert len(copies) == 1 and copies[0].name.startswith("100000.100000-")
    layers = list(copies[0].iterdir())
    assert len(layers) == 1
    assert os.stat(layers[0] / "bin" / "busybox").st_uid == 100000
    inode = os.stat(layers[0]).st_ino
    assert pallet.out("run", "--rm", "busybox", "sh", "-c", script).splitlines() == ["0", "0", "ok"]
    assert [os.stat(p).st_ino for p in copies[0].iterdir()] == [inode]  # reused, not copied again
    # Once the image is gone, its shifted layers can be pruned (and not before).
    from pallet.engine.userns_rootfs import prune_shifted_layers

    assert prune_shifted_layers(str(pallet.root)) == 0
    pallet("rmi", "busybox")
    assert prune_shifted_layers(str(pallet.root)) == 1
    assert not (pallet.root / "userns").exists() or list((pallet.root / "userns").iterdir()) == []


@pytest.mark.parametrize(("flags", "subuid", "words"), [
    (["--userns-remap", "0:100000:70000"], None, ["0:100000:70000", "outside", "subuid"]),
    (["--userns-remap", "0:100000:1000,500:101000:10"], None, ["overlaps", "containerID"]),
    (["--userns-remap", "0:0:1000"], None, ["host id 0"]),
    (["--userns-remap", "default"], "pallet-remap:100000:65536\npallet-remap:150000:65536\n",
     ["overlap", "100000:65536", "150000:65536"]),
    (["--userns-remap", "nobody-here"], None, ["nobody-here", "no range", "subuid"]),
    (["--userns-remap", "default"], "pallet-remap:100000\n", ["subuid:1", "user:start:count"]),
    (["--userns-remap", "default", "--privileged"], None, ["privileged", "--userns host"]),
    (["--userns-remap", "default", "--network", "host"], None, ["host's network namespace"]),
    (["--userns-remap", "default", "--userns", "host"], None, ["conflicting options"]),
    (["--userns", "private"], None, ["--userns 'private'", "host"]),
    (["--userns-remap", ""], None, ["--userns-remap ''"]),
])
def test_bad_input_names_it_and_creates_nothing(pallet: RemapPallet, flags: list[str], subuid: str | None,
                                                words: list[str]) -> None:
    if subuid is not None:
        pallet.subuid.write_text(subuid)
    proc = pallet("run", "--rm", *flags, "busybox", "true", check=False)
    assert proc.returncode == 125, proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)
    assert pallet.containers() == []
    assert pallet.out("ps", "-aq") == ""


def test_bad_store_settings(pallet: RemapPallet) -> None:
    (pallet.root / "config.json").write_text("{not json")
    proc = pallet("run", "--rm", "busybox", "true", check=False)
    assert proc.returncode == 125 and "config.json" in proc.stderr
    pallet.settings(**{"userns-remap": "default", "userns-rootfs": "magic"})
    proc = pallet("run", "--rm", "busybox", "true", check=False)
    assert proc.returncode == 125 and "'magic'" in proc.stderr and "userns-rootfs" in proc.stderr
    pallet.settings(**{"userns-remap": "ghost"})
    proc = pallet("run", "--rm", "busybox", "true", check=False)
    assert proc.returncode == 125 and "'ghost'" in proc.stderr and "userns-remap" in proc.stderr
    assert pallet.containers() == []


def test_unreachable_state_root_is_refused(tmp_path: Path) -> None:
    p = RemapPallet(tmp_path)  # pytest's directories are 0700: the mapped root cannot pass them
    try:
        p.make_busybox()
        proc = p("run", "--rm", "--userns-remap", "default", "busybox", "true", check=False)
        assert proc.returncode == 125
        assert "cannot be reached" in proc.stderr and "chmod o+x" in proc.stderr and "100000" in proc.stderr
        assert p.containers() == []
    finally:
        p.cleanup()


def test_file_bind_mount_in_a_remapped_container(pallet: RemapPallet) -> None:
    f = pallet.base / "motd"
    f.write_text("hello\n")
    os.chmod(f, 0o644)
    out = pallet("run", "--rm", "--userns-remap", "default", "-v", f"{f}:/motd:ro", "busybox", "cat", "/motd",
                 check=False)
    assert out.returncode == 0 and out.stdout == "hello\n", out.stderr
