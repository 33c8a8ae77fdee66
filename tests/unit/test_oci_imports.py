"""The oci modules on the container start path import only cheap standard-library modules."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

HEAVY = ("typing", "re", "dataclasses", "subprocess", "enum", "ctypes", "json")


@pytest.mark.parametrize("module", [
    "pallet.oci.validate", "pallet.oci.validate_linux", "pallet.oci.validate_resources",
    "pallet.oci.validate_seccomp", "pallet.oci.mountopts", "pallet.oci.defaults", "pallet.oci.features",
])
def test_module_imports_nothing_heavy(module: str) -> None:
    code = f"import sys, {module}; print([m for m in {HEAVY!r} if m in sys.modules])"
    # -S: no site (it may import some of these itself); the source tree is on the path via -c's cwd
    out = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path[:0] = {sys.path!r}; {code}"],
        check=True, capture_output=True, text=True,
    ).stdout
    loaded = ast.literal_eval(out.splitlines()[-1])
    assert loaded == [], f"{module} imported {loaded}"


def test_validating_a_config_needs_no_typing() -> None:
    code = (
        "import sys; from pallet.oci.defaults import default_spec; from pallet.oci.validate import validate_config;"
        "validate_config(default_spec());"
        "print(sorted(m for m in ('typing', 'dataclasses', 'subprocess') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path[:0] = {sys.path!r}; {code}"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert out.strip() == "[]"
