"""Running the `pallet` CLI in a test's own state roots, as a user would."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from tests.helpers.leaks import SESSION_TAG, TEST_CGROUP_PARENT

_stores = itertools.count()
_OCTET = 100 + zlib.crc32(SESSION_TAG.encode() + b"cli-default") % 100
PALLET = [sys.executable, "-m", "pallet.cli.main"]
_BIN = Path(sys.executable).with_name("pallet")
if _BIN.exists():
    PALLET = [str(_BIN)]


class Pallet:
    """``pallet`` with ``--root``/``--runroot`` under ``base`` and cgroups under the session's test parent."""

    def __init__(self, base: Path) -> None:
        self.root = base / "root"
        self.runroot = base / "run"
        self.env = dict(os.environ, PALLET_CGROUP_PARENT=TEST_CGROUP_PARENT)
        self.env.pop("PALLET_ROOT", None)
        self.env.pop("PALLET_RUNROOT", None)
        # Host-global network names of this store only (never the default pallet0 bridge or table).
        n = next(_stores)
        (self.root / "networks").mkdir(parents=True, exist_ok=True)
        (self.root / "networks" / "config.json").write_text(json.dumps({
            "bridge": f"{SESSION_TAG}d{n}", "bridge_prefix": f"{SESSION_TAG}d{n % 100:02d}",
            "table": f"{SESSION_TAG}_d{n}", "pools": [[f"10.{_OCTET}.0.0/16", 24]], "veth_prefix": SESSION_TAG}))

    def argv(self, *args: str) -> list[str]:
        return [*PALLET, "--root", str(self.root), "--runroot", str(self.runroot), *args]

    def __call__(self, *args: str, check: bool = True, timeout: float = 60, input: str | None = None,
                 stdin: int | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout, env=self.env,
                              input=input, stdin=stdin if input is None else None)
        if check and proc.returncode != 0:
            raise AssertionError(f"pallet {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def out(self, *args: str) -> str:
        return self(*args).stdout.strip()

    def inspect(self, name: str) -> dict[str, Any]:
        """The `inspect` document of one container."""
        doc: dict[str, Any] = json.loads(self.out("inspect", name))[0]
        return doc

    def make_busybox(self) -> None:
        """The busybox image in this store, built from the host's busybox-static by pallet.image."""
        from pallet.image.build_busybox import build_busybox
        from pallet.image.store import ImageStore

        build_busybox(ImageStore(self.root))

    def cleanup(self) -> None:
        """Remove every container of the store and wait for its supervisor to exit."""
        ids = self("ps", "-aq", "--no-trunc", check=False).stdout.split()
        if ids:
            self("rm", "-f", *ids, check=False)
        deadline = time.monotonic() + 5
        while (self.runroot / "monitor.sock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if (self.root / "networks" / "state.json").exists():
            from pallet.network import NetworkStore

            NetworkStore(str(self.root), str(self.runroot)).reset()
