"""A pulled image runs: busybox pushed to a loopback registry, removed, pulled back, run."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.cli import Pallet
from tests.helpers.registry import registry_available, start_registry

pytestmark = pytest.mark.skipif(not registry_available(), reason="docker-registry is not installed")


def test_push_rmi_pull_run(pallet: Pallet, tmp_path: Path) -> None:
    with start_registry(tmp_path / "registry") as registry:
        ref = f"{registry.host}/tests/busybox:1"
        pallet("tag", "busybox", ref)
        pallet("push", ref)
        pallet("rmi", ref, "busybox")
        assert pallet.out("images", "-q") == ""
        # Nothing of the image is left: no blob, no unpacked layer.
        assert not list((pallet.root / "snapshots").rglob("fs"))
        pulled = pallet("pull", "-q", ref)
        assert pulled.stdout == ref + "\n"
    layers = list((pallet.root / "snapshots").rglob("fs"))
    # The pulled image has only blobs: the first run unpacks its layers, then runs on them.
    proc = pallet("run", "--rm", ref, "sh", "-c", "echo from-pulled; busybox | head -1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("from-pulled\nBusyBox")
    unpacked = list((pallet.root / "snapshots").rglob("fs"))
    assert len(unpacked) > len(layers)
    # A second container reuses the unpacked layers: only its own writable layer is added.
    cid = pallet.out("create", ref, "true")
    assert len(list((pallet.root / "snapshots").rglob("fs"))) == len(unpacked) + 1
    pallet("rm", cid)
    cid = pallet.out("create", ref, "true")
    doc = pallet.inspect(cid)
    assert doc["Config"]["Image"] == ref
    pallet("rm", cid)
