"""OCI bundles for runtime tests, and a runner for the runtime binary under test.

The runtime binary is pallet-runtime from the virtual environment, or the one named by the
environment variable PALLET_TEST_RUNTIME (e.g. runc or crun, to check that the tests themselves
are right).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from tests.helpers.leaks import TEST_CGROUP_PARENT

VENV_BIN = Path(sys.executable).parent


def runtime_binary() -> str:
    return os.environ.get("PALLET_TEST_RUNTIME") or str(VENV_BIN / "pallet-runtime")


def is_pallet() -> bool:
    return "pallet-runtime" in os.path.basename(runtime_binary())


def says(stderr: str, *words: str) -> bool:
    """pallet-runtime's errors name the field and the value: check its words (other runtimes word
    their errors their own way, so with PALLET_TEST_RUNTIME only the failure itself is checked)."""
    return not is_pallet() or all(w in stderr for w in words)


def assert_refused(rt: Runtime, proc: subprocess.CompletedProcess[str], *words: str) -> None:
    """``proc`` (a create or run by ``rt``) failed, its error says ``words`` (see says), and no
    container is left."""
    assert proc.returncode != 0, proc.stderr
    assert says(proc.stderr, *words), proc.stderr
    assert rt.run("list", "-q").stdout.strip() == ""


def new_id(prefix: str = "c") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def make_config(args: list[str], **changes: Any) -> dict[str, Any]:
    from pallet.oci.defaults import default_spec

    spec: dict[str, Any] = json.loads(json.dumps(default_spec()))
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    spec["root"] = {"path": "rootfs", "readonly": False}
    spec["linux"]["cgroupsPath"] = f"/{TEST_CGROUP_PARENT}/{new_id('cg')}"
    for key, value in changes.items():
        spec[key] = value
    return spec


# Root in the container is host uid and gid 100000, and 65536 ids are mapped.
USERNS_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def in_user_namespace(config: dict[str, Any]) -> None:
    """Give the container a user namespace of its own mapped by USERNS_MAP; without the /sys and
    /sys/fs/cgroup mounts (they need more care there) and without gid= mount options."""
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = USERNS_MAP
    config["linux"]["gidMappings"] = USERNS_MAP
    config["mounts"] = [m for m in config["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
    for m in config["mounts"]:
        m["options"] = [o for o in m.get("options", []) if not o.startswith("gid=")]


def write_bundle(bundle: Path, rootfs: Path, config: dict[str, Any]) -> Path:
    """A bundle whose root.path is the absolute path of ``rootfs`` (runc and crun take that too)."""
    bundle.mkdir(parents=True, exist_ok=True)
    if isinstance(config.get("root"), dict):
        config["root"]["path"] = str(rootfs)
    if not is_pallet():
        config["ociVersion"] = "1.0.2"  # Debian's crun accepts no other
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    return bundle


class Runtime:
    """Runs the runtime binary with its own --root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.binary = runtime_binary()

    def cmd(self, *args: str) -> list[str]:
        return [self.binary, "--root", str(self.root), *args]

    def run(self, *args: str, check: bool = False, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
        kw.setdefault("capture_output", True)
        proc = subprocess.run(self.cmd(*args), text=True, timeout=timeout, **kw)
        if check and proc.returncode != 0:
            raise AssertionError(f"{args} exited {proc.returncode}: {proc.stderr}")
        return proc

    def run_detached(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command that leaves a container process behind (create, run -d, exec -d).

        That process keeps the runtime's stdio, so pipes would stay open as long as it lives: stdout
        goes to /dev/null and stderr to a file, read back as the result's stderr.
        """
        import tempfile

        with tempfile.TemporaryFile(mode="w+") as err:
            proc = subprocess.run(self.cmd(*args), text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=err)
            err.seek(0)
            return subprocess.CompletedProcess(proc.args, proc.returncode, "", err.read())

    def state(self, cid: str) -> dict[str, Any]:
        out = self.run("state", cid, check=True)
        data: dict[str, Any] = json.loads(out.stdout)
        return data

    def cleanup(self) -> None:
        """Delete every container left under this root (after a failed test)."""
        out = self.run("list", "-q")
        for cid in out.stdout.split():
            self.run("delete", "--force", cid)


def run_in_terminal(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 60
                    ) -> subprocess.CompletedProcess[str]:
    """``cmd`` with a terminal of its own (util-linux `script`), its exit code passed through.

    `script` may end as soon as its stdin is at end of file, before the command has said anything:
    it gets a pipe that stays open until the command is done.
    """
    read_end, write_end = os.pipe()
    try:
        return subprocess.run(["script", "-eqc", subprocess.list2cmdline(cmd), "/dev/null"], capture_output=True,
                              text=True, stdin=read_end, env=env, timeout=timeout)
    finally:
        os.close(read_end)
        os.close(write_end)
