"""The container start path stays light: `pallet-runtime run` imports none of the heavy modules.

Every container start pays the imports of the runtime (docs/runtime.md, "Speed"): `re` (through
json, argparse, platform...), `typing`, `enum` (through signal, socket), `dataclasses`,
`subprocess`, `hashlib`... cost milliseconds each. This test runs a container the way the launcher
does and lists what was imported, in the runtime and in its children.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers.oci import Runtime, is_pallet, new_id

HEAVY = {"re", "json", "typing", "enum", "dataclasses", "subprocess", "socket", "hashlib", "argparse",
         "platform", "shutil", "tempfile", "threading", "collections", "inspect", "pathlib", "importlib",
         "warnings"}


def test_run_imports_no_heavy_module(rt: Runtime, bundle: Callable[..., Path]) -> None:
    if not is_pallet():
        pytest.skip("pallet-runtime's own imports")
    b = bundle(["true"])
    launcher = Path(sys.executable).with_name("pallet-runtime")
    out = subprocess.run([sys.executable, "-IS", "-X", "importtime", str(launcher), "--root", str(rt.root),
                          "run", "-b", str(b), new_id()], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "pallet.runtime.lifecycle" in imported  # the listing works
    assert not imported & HEAVY, sorted(imported & HEAVY)


def test_run_with_a_cached_seccomp_profile_imports_no_heavy_module(rt: Runtime, bundle: Callable[..., Path]) -> None:
    if not is_pallet():
        pytest.skip("pallet-runtime's own imports")
    from pallet.engine.security.options import parse_security_opts, security_config

    def edit(config: dict) -> None:
        sec = security_config(parse_security_opts(()), privileged=False, cap_add=(), cap_drop=(), uid=0,
                              warnings=[])
        config["process"].update(sec["process"])
        config["linux"].update(sec["linux"])

    b = bundle(["true"], edit=edit)
    launcher = Path(sys.executable).with_name("pallet-runtime")
    for _attempt in range(2):  # the first run compiles the filter and fills the cache
        out = subprocess.run([sys.executable, "-IS", "-X", "importtime", str(launcher), "--root", str(rt.root),
                              "run", "-b", str(b), new_id()], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "pallet.runtime.seccomp" in imported
    assert not imported & HEAVY, sorted(imported & HEAVY)
