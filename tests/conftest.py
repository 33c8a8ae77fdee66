"""Test configuration shared by every suite: markers, busybox root filesystems, leak checks."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import leaks
from tests.helpers.rootfs import busybox_available, copy_rootfs, make_busybox_rootfs

IS_ROOT = os.geteuid() == 0


def pytest_configure(config: pytest.Config) -> None:
    if IS_ROOT:
        # Orphans of the tests (detached containers, monitors) reparent to this process, so that
        # the leak check sees them and can reap them.
        from pallet._linux.prctl import set_child_subreaper

        set_child_subreaper(True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_root = pytest.mark.skip(reason="needs root")
    for item in items:
        if "integration" in item.path.parts or "e2e" in item.path.parts:
            item.add_marker(pytest.mark.root)
        if item.get_closest_marker("root") and not IS_ROOT:
            item.add_marker(skip_root)


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A busybox root filesystem shared by the session: copy it before writing into it."""
    if not busybox_available():
        pytest.skip("busybox-static is not installed (scripts/setup installs it)")
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


@pytest.fixture
def rootfs(busybox_rootfs: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the busybox root filesystem."""
    return copy_rootfs(busybox_rootfs, tmp_path / "rootfs")


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail a root test that leaves a mount, cgroup, link, namespace or process behind."""
    if not IS_ROOT or request.node.get_closest_marker("root") is None:
        yield
        return
    base = str(tmp_path_factory.getbasetemp())
    mounts0 = leaks.mountpoints()
    cgroups0 = leaks.cgroup_dirs()
    links0 = leaks.links()
    netns0 = leaks.netns_names()
    children0 = set(leaks.children())
    yield
    problems: list[str] = []
    problems += [f"process left: {p}" for p in leaks.leftover_processes(children0)]
    new_mounts = sorted(m for m in leaks.mountpoints() - mounts0 if m.startswith(base) or leaks.SESSION_TAG in m)
    problems += [f"mount left: {m}" for m in new_mounts]
    for m in reversed(new_mounts):
        subprocess.run(["umount", "-l", m], capture_output=True)
    new_cgroups = sorted(leaks.cgroup_dirs() - cgroups0)
    problems += [f"cgroup left: {c}" for c in new_cgroups]
    for c in reversed(new_cgroups):
        leaks.remove_cgroup_tree(c)
    new_links = sorted(leaks.links() - links0)
    problems += [f"link left: {link}" for link in new_links]
    for link in new_links:
        subprocess.run(["ip", "link", "del", link], capture_output=True)
    new_netns = sorted(n for n in leaks.netns_names() - netns0 if n.startswith(("pallet", leaks.SESSION_TAG)))
    problems += [f"netns left: {n}" for n in new_netns]
    if problems:
        pytest.fail("test left things behind:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _remove_session_cgroup_parent() -> Iterator[None]:
    yield
    if not IS_ROOT:
        return
    for h in os.listdir(leaks.CGROUP_ROOT) if os.path.isdir(leaks.CGROUP_ROOT) else []:
        path = os.path.join(leaks.CGROUP_ROOT, h, leaks.TEST_CGROUP_PARENT)
        if os.path.isdir(path):
            leaks.remove_cgroup_tree(path)
