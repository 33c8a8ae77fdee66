"""Engine pieces that need no root: names, records, logs with rotation, flag parsing, checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pallet.cli.commands._runopts import parse_restart, ram_in_bytes
from pallet.engine.create import check_hostconfig, merge_image
from pallet.engine.images import ImageInfo
from pallet.engine.logs import LogWriter, read_entries
from pallet.engine.service import exit_status, parse_signal
from pallet.engine.specgen import parse_cgroup_rule, read_in_root, resolve_user
from pallet.engine.store import ContainerStore, check_name, now_iso, parse_iso
from pallet.errors import ConfigError, ConflictError, NotFoundError


def test_names_are_claimed_once(tmp_path: Path) -> None:
    store = ContainerStore(str(tmp_path))
    a, b = store.new_id(), store.new_id()
    store.create_dir(a)
    store.claim_name("web", a)
    with pytest.raises(ConflictError, match='The container name "/web" is already in use by container "' + a):
        store.claim_name("web", b)
    store.release_name("web", a)
    store.claim_name("web", b)  # a stale claim of a missing container is taken over too
    assert check_name("/ok-name_1") == "ok-name_1"
    for bad in ("x", "-a", "a/b", "a b"):
        with pytest.raises(ConfigError, match="Invalid container name"):
            check_name(bad)


def test_a_short_id_of_digits_only_is_drawn_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The short id is the hostname: one of digits only does not resolve through /etc/hosts.
    draws = [bytes.fromhex("566372901945" + "0" * 52), bytes.fromhex("56637290194a" + "0" * 52)]
    monkeypatch.setattr("pallet.engine.store.os.urandom", lambda n: draws.pop(0))
    assert ContainerStore(str(tmp_path)).new_id() == "56637290194a" + "0" * 52
    assert draws == []


def test_records_are_written_atomically_and_resolved(tmp_path: Path) -> None:
    store = ContainerStore(str(tmp_path))
    cid = store.new_id()
    store.create_dir(cid)
    store.claim_name("db", cid)
    store.write({"Id": cid, "Name": "/db", "HostConfig": {"Memory": 1}})
    assert store.read(cid)["HostConfig"] == {"Memory": 1}
    assert not [p for p in os.listdir(store.path(cid)) if ".tmp" in p]
    assert store.resolve("db") == cid == store.resolve(cid[:8])
    with pytest.raises(NotFoundError, match="No such container: zz"):
        store.resolve("zz")


def test_times_round_trip() -> None:
    stamp = now_iso(1_700_000_000_123_456_789)
    assert stamp == "2023-11-14T22:13:20.123456789Z"
    assert abs(parse_iso(stamp) - 1_700_000_000.123456789) < 1e-6
    assert parse_iso("0001-01-01T00:00:00Z") == 0.0


def test_log_writer_lines_partial_and_rotation(tmp_path: Path) -> None:
    path = str(tmp_path / "c-json.log")
    w = LogWriter(path, max_size=200, max_file=3)
    w.write("stdout", b"one\ntw")
    w.write("stdout", b"o\n")
    w.write("stderr", b"err\n")
    for i in range(10):
        w.write("stdout", f"line {i}\n".encode())
    w.write("stdout", b"tail")
    w.close()
    assert os.path.exists(path + ".1") and os.path.exists(path + ".2") and not os.path.exists(path + ".3")
    assert all(os.path.getsize(p) <= 200 for p in (path, path + ".1", path + ".2"))
    entries = list(read_entries(path))
    assert entries[-1]["log"] == "tail" and entries[-2]["log"] == "line 9\n"
    assert json.loads(Path(path).read_text().splitlines()[-1])["stream"] == "stdout"


def test_flag_parsers() -> None:
    assert ram_in_bytes("64m", "-m") == 64 << 20 and ram_in_bytes("1.5g", "-m") == int(1.5 * (1 << 30))
    assert ram_in_bytes("512", "-m") == 512 and ram_in_bytes("10MB", "-m") == 10 << 20
    with pytest.raises(ConfigError, match="-m"):
        ram_in_bytes("lots", "-m")
    assert parse_restart("on-failure:3") == {"Name": "on-failure", "MaximumRetryCount": 3}
    with pytest.raises(ConfigError, match="--restart"):
        parse_restart("always:3")
    assert parse_signal("KILL") == 9 == parse_signal("SIGKILL") == parse_signal("9")
    with pytest.raises(ConfigError, match="SIGNOPE"):
        parse_signal("SIGNOPE")
    assert exit_status(9) == 137 and exit_status(3 << 8) == 3
    assert parse_cgroup_rule("c 1:3 mr") == {"allow": True, "type": "c", "access": "mr", "major": 1, "minor": 3}
    assert parse_cgroup_rule("a *:* rwm") == {"allow": True, "type": "a", "access": "rwm"}
    with pytest.raises(ConfigError, match="--device-cgroup-rule"):
        parse_cgroup_rule("x 1:3 r")


@pytest.mark.parametrize(("hc", "message"), [
    ({"Memory": 1 << 20}, "minimum memory limit allowed is 6MB"),
    ({"Memory": -1}, "must not be negative"),
    ({"Memory": 64 << 20, "MemorySwap": 32 << 20}, "--memory-swap"),
    ({"NanoCpus": 10_000 * 10**9}, "--cpus"),
    ({"CpusetCpus": "0-999"}, "--cpuset-cpus"),
    ({"BlkioWeight": 5}, "--blkio-weight"),
    ({"OomScoreAdj": 5000}, "--oom-score-adj"),
    ({"RestartPolicy": {"Name": "always"}, "AutoRemove": True}, "--restart and --rm"),
    ({"LogConfig": {"Type": "syslog"}}, "--log-driver"),
    ({"LogConfig": {"Type": "json-file", "Config": {"max-size": "huge"}}}, "max-size"),
])
def test_hostconfig_checks(hc: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=message.replace("-", r"\-")):
        check_hostconfig(hc)


def test_merge_image_follows_docker() -> None:
    image = ImageInfo("sha256:x", "busybox", {"Cmd": ["sh"], "Entrypoint": ["/init"], "Env": ["PATH=/bin", "A=1"],
                                             "WorkingDir": "/w", "User": "app"}, None, [])
    cfg = merge_image({"Cmd": ["echo", "hi"], "Env": ["A=2"], "Entrypoint": None}, image)
    assert cfg["Entrypoint"] == ["/init"] and cfg["Cmd"] == ["echo", "hi"]
    assert cfg["Env"] == ["PATH=/bin", "A=2"] and cfg["WorkingDir"] == "/w" and cfg["User"] == "app"
    cfg = merge_image({"Cmd": None, "Entrypoint": []}, image)
    assert cfg["Entrypoint"] == [] and not cfg["Cmd"]


def test_user_lookup_stays_in_the_root(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nwheel:x:10:app\napp:x:1000:\n")
    assert resolve_user(str(root), "app") == {"uid": 1000, "gid": 1000, "additionalGids": [10]}
    assert resolve_user(str(root), "1000:wheel") == {"uid": 1000, "gid": 10}
    assert resolve_user(str(root), "4242") == {"uid": 4242, "gid": 0}
    with pytest.raises(ConfigError, match="unable to find user nobody"):
        resolve_user(str(root), "nobody")
    (root / "escape").symlink_to("/etc/hostname")
    (root / "up").symlink_to("../../../../../../etc/hostname")
    assert read_in_root(str(root), "/escape") is None  # resolved inside the root, where it does not exist
    assert read_in_root(str(root), "/up") is None


def test_snapshot_metadata_of_a_rm_container_is_not_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pallet.image.snapshot.overlay import OverlaySnapshotter

    snap = OverlaySnapshotter(tmp_path / "snapshots")
    snap.prepare("base")
    snap.commit("layer", "base")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    snap.prepare("rm-container", "layer", durable=False)
    snap.remove("rm-container", durable=False)
    assert synced == []  # --rm: the metadata replaced without an fsync (it goes with the container)
    assert not snap.exists("rm-container") and snap.exists("layer")
    snap.prepare("kept", "layer")
    assert len(synced) == 1  # the default stays durable
    snap.remove("kept")
    assert len(synced) == 2


def test_in_process_runtime_names_a_container_it_does_not_know(tmp_path: Path) -> None:
    from pallet.engine.inprocess import InProcessRuntime

    rt = InProcessRuntime(str(tmp_path))
    resources = tmp_path / "r.json"
    resources.write_text('{"pids": {"limit": 10}}')
    for call in (lambda: rt.pause("nope"), lambda: rt.resume("nope"), lambda: rt.update("nope", str(resources))):
        with pytest.raises(NotFoundError, match="container nope not found by the pallet runtime"):
            call()
