"""pallet.engine.userns without root: resolving --userns-remap, store settings, the spec edits."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pallet.engine import userns
from pallet.errors import ConfigError

MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "subuid").write_text("pallet-remap:100000:65536\nalice:200000:1000\nalice:300000:1000\n")
    (tmp_path / "subgid").write_text("pallet-remap:100000:65536\nstaff:400000:5000\n")
    monkeypatch.setenv("PALLET_SUBUID_FILE", str(tmp_path / "subuid"))
    monkeypatch.setenv("PALLET_SUBGID_FILE", str(tmp_path / "subgid"))
    root = tmp_path / "root"
    root.mkdir()
    return root


def test_no_remap_by_default(store: Path) -> None:
    assert userns.resolve(str(store), {}) is None
    assert userns.resolve(str(store), {"UsernsMode": "host"}) is None


def test_default_user_and_store_setting(store: Path) -> None:
    got = userns.resolve(str(store), {}, "default")
    assert got == {"Remap": "default", "UidMap": MAP, "GidMap": MAP}
    (store / "config.json").write_text(json.dumps({"userns-remap": "default"}))
    assert userns.resolve(str(store), {}) == got
    assert userns.resolve(str(store), {"UsernsMode": "host"}) is None


def test_user_ranges_laid_end_to_end(store: Path) -> None:
    got = userns.resolve(str(store), {}, "alice:staff")
    assert got is not None
    assert got["UidMap"] == [{"containerID": 0, "hostID": 200000, "size": 1000},
                             {"containerID": 1000, "hostID": 300000, "size": 1000}]
    assert got["GidMap"] == [{"containerID": 0, "hostID": 400000, "size": 5000}]


def test_explicit_mappings_checked_against_the_files(store: Path) -> None:
    got = userns.resolve(str(store), {}, "0:100000:10,10:100010:10")
    assert got is not None and len(got["UidMap"]) == 2 and got["GidMap"] == got["UidMap"]
    with pytest.raises(ConfigError, match=r"0:100000:70000.*outside.*subuid"):
        userns.resolve(str(store), {}, "0:100000:70000")
    with pytest.raises(ConfigError, match="overlaps"):
        userns.resolve(str(store), {}, "0:100000:10,5:100020:10")
    with pytest.raises(ConfigError, match="container's root"):
        userns.resolve(str(store), {}, "1:100000:10")
    with pytest.raises(ConfigError, match="empty"):
        userns.resolve(str(store), {}, "0:100000:0")


def test_errors_name_the_source(store: Path) -> None:
    (store / "config.json").write_text(json.dumps({"userns-remap": "ghost"}))
    with pytest.raises(ConfigError, match=r"'ghost' \(from 'userns-remap' of .*config.json\).*no range"):
        userns.resolve(str(store), {})
    with pytest.raises(ConfigError, match="conflicting"):
        userns.resolve(str(store), {"UsernsMode": "host"}, "default")
    with pytest.raises(ConfigError, match="privileged"):
        userns.resolve(str(store), {"Privileged": True}, "default")
    (store / "config.json").write_text(json.dumps({"userns-remap": 5}))
    with pytest.raises(ConfigError, match="must be a string"):
        userns.resolve(str(store), {})
    (store / "config.json").write_text("[]")
    with pytest.raises(ConfigError, match="JSON object"):
        userns.store_settings(str(store))


def test_subid_files_from_settings(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PALLET_SUBUID_FILE")
    monkeypatch.delenv("PALLET_SUBGID_FILE")
    assert userns.subid_files(str(store)) == ("/etc/subuid", "/etc/subgid")
    (store / "config.json").write_text(json.dumps({"subuid-file": "/x/u", "subgid-file": "/x/g"}))
    assert userns.subid_files(str(store)) == ("/x/u", "/x/g")


def test_adjust_spec() -> None:
    spec = {"mounts": [
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance", "gid=5"]},
    ], "linux": {"namespaces": [{"type": "pid"}, {"type": "user"}]}}
    userns.adjust_spec(spec, {"UidMap": MAP, "GidMap": [{"containerID": 0, "hostID": 100000, "size": 1}]})
    linux = spec["linux"]
    assert isinstance(linux, dict)
    assert linux["namespaces"] == [{"type": "pid"}, {"type": "user"}]
    assert linux["uidMappings"] == MAP
    mounts = spec["mounts"]
    assert isinstance(mounts, list)
    assert mounts[0] == {"destination": "/sys", "type": "bind", "source": "/sys",
                         "options": ["rbind", "nosuid", "noexec", "nodev", "ro", "rro"]}
    assert mounts[1]["options"] == ["ro"]
    assert mounts[2]["options"] == ["newinstance"]  # gid 5 is not mapped


def test_unreachable(tmp_path: Path) -> None:
    top = tmp_path / "a"
    (top / "b").mkdir(parents=True)
    me, group = os.getuid(), os.getgid()
    os.chmod(top, 0o600)  # no search permission even for its owner
    try:
        assert userns.unreachable(str(top / "b" / "c"), me, group) == str(top)
        os.chmod(top, 0o700)
        assert userns.unreachable(str(top / "b" / "c"), me, group) is None
        # the owner's bits count for the owner, the group's for the group, the others' for the rest
        os.chmod(top, 0o070)
        assert userns.unreachable(str(top / "b"), me, group) == str(top)
    finally:
        os.chmod(top, 0o700)
    assert userns.to_host(MAP, 5) == 100005 and userns.to_host(MAP, 70000) is None
