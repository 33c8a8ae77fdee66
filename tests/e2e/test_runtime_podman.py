"""podman drives pallet-runtime in place of runc: run, exec, ps, pause, stop, rm, run -it.

podman gets its own configuration and storage in the test's temporary directory (cgroupfs, no
ulimits above this host's hard limits), and its busybox image from `pallet save`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.cli import Pallet
from tests.helpers.leaks import SESSION_TAG

RUNTIME = str(Path(sys.executable).with_name("pallet-runtime"))

pytestmark = pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")


class Podman:
    def __init__(self, base: Path) -> None:
        base.mkdir(parents=True, exist_ok=True)
        (base / "containers.conf").write_text(
            '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\n'
            f'events_logger = "file"\nevents_logfile_path = "{base}/events.log"\n'
            f'cgroup_parent = "/{SESSION_TAG}-podman"\n'
        )
        (base / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\nrunroot = "{base}/run"\ngraphroot = "{base}/graph"\n'
        )
        self.env = dict(os.environ, CONTAINERS_CONF=str(base / "containers.conf"),
                        CONTAINERS_STORAGE_CONF=str(base / "storage.conf"), XDG_CONFIG_HOME=str(base / "config"))
        # pallet-runtime's state (and its seccomp cache) in the test's directory, not /run/pallet
        self.runtime_flags = ["--runtime-flag", f"root={base}/runtime"]

    def __call__(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["podman", "--runtime", RUNTIME, *self.runtime_flags, "--cgroup-manager", "cgroupfs",
                               *args],
                              capture_output=True, text=True, env=self.env, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    tmp_path = tmp_path_factory.mktemp("podman")
    # With cgroupfs, conmon puts itself under /libpod_parent/conmon whatever cgroup_parent says:
    # remove that too afterwards, unless it was there before.
    libpod_existed = os.path.isdir("/sys/fs/cgroup/pids/libpod_parent")
    # podman's blob cache, network run dir and short-name lock ignore the private storage: remove
    # them if made here
    made_dirs = [d for d in ("/var/lib/containers", "/run/containers", "/var/cache/containers")
                 if not os.path.exists(d)]
    # and /run/netns, which podman bind-mounts onto itself (shared) for its namespaces
    made_netns_dir = not os.path.exists("/run/netns")
    p = Podman(tmp_path / "podman")
    store = Pallet(tmp_path / "pallet")
    store.make_busybox()
    store("save", "-o", str(tmp_path / "busybox.tar"), "busybox")
    p("load", "-i", str(tmp_path / "busybox.tar"))
    try:
        yield p
    finally:
        p("rm", "-af", "-t", "0", check=False)
        p("system", "reset", "-f", check=False)
        for d in made_dirs:
            shutil.rmtree(d, ignore_errors=True)
        if made_netns_dir and os.path.isdir("/run/netns") and not os.listdir("/run/netns"):
            for _ in range(8):  # bound onto itself (same device: os.path.ismount cannot tell), maybe stacked
                if subprocess.run(["mountpoint", "-q", "/run/netns"]).returncode or \
                        subprocess.run(["umount", "/run/netns"]).returncode:
                    break
            with contextlib.suppress(OSError):
                os.rmdir("/run/netns")
        store.cleanup()
        for hierarchy in os.listdir("/sys/fs/cgroup"):
            if not libpod_existed:
                _remove_empty_tree(f"/sys/fs/cgroup/{hierarchy}/libpod_parent")
            parent = f"/sys/fs/cgroup/{hierarchy}/{SESSION_TAG}-podman"
            if os.path.isdir(parent):
                for sub in os.listdir(parent):
                    if os.path.isdir(os.path.join(parent, sub)):
                        os.rmdir(os.path.join(parent, sub))
                os.rmdir(parent)


def _remove_empty_tree(path: str) -> None:
    """rmdir a cgroup tree bottom-up (a cgroup that still has processes stays)."""
    if not os.path.isdir(path):
        return
    for dirpath, _dirs, _files in sorted(os.walk(path), key=lambda t: -t[0].count("/")):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def test_podman_runs_containers_on_pallet_runtime(podman: Podman) -> None:
    out = podman("run", "--rm", "--network", "none", "--hostname", "viapodman", "busybox",
                 "sh", "-c", "echo pid=$$; hostname; grep CapEff /proc/self/status")
    lines = out.stdout.split("\n")
    assert lines[0] == "pid=1"
    assert lines[1] == "viapodman"
    assert podman("run", "--rm", "--network", "none", "busybox", "sh", "-c", "exit 3", check=False).returncode == 3


def test_podman_lifecycle_on_pallet_runtime(podman: Podman) -> None:
    cid = podman("run", "-d", "--name", "pw", "--network", "none", "busybox", "sleep", "60").stdout.strip()
    assert cid
    assert podman("exec", "pw", "sh", "-c", "echo exec-ok").stdout.strip() == "exec-ok"
    assert "sleep 60" in podman("top", "pw").stdout
    podman("pause", "pw")
    assert podman("inspect", "-f", "{{.State.Status}}", "pw").stdout.strip() == "paused"
    podman("unpause", "pw")
    podman("stop", "-t", "1", "pw")
    assert podman("inspect", "-f", "{{.State.Status}}", "pw").stdout.strip() == "exited"
    podman("rm", "pw")


def test_podman_run_with_a_terminal(podman: Podman) -> None:
    # conmon hands pallet-runtime a --console-socket; `script` gives podman a terminal of its own.
    from tests.helpers.oci import run_in_terminal

    out = run_in_terminal(["podman", "--runtime", RUNTIME, *podman.runtime_flags, "--cgroup-manager", "cgroupfs",
                           "run", "--rm", "-it",
                           "--network", "none", "busybox", "sh", "-c", "tty; echo tty-ok"], env=podman.env)
    text = out.stdout.replace("\r", "")
    assert "/dev/pts/0" in text and "tty-ok" in text, (out.stdout, out.stderr)
