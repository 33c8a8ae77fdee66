"""Imports point down the layers: cli/api -> engine -> image/network/runtime -> _linux.

Also: C calls only in pallet._linux (through its ffi module, on _ctypes), and the runtime never imports the engine, images or networks
(an OCI bundle is all it takes, so that runc can replace it and it can replace runc).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "pallet"

# package -> the pallet packages it must never import
FORBIDDEN = {
    "_linux": ("pallet.oci", "pallet.runtime", "pallet.image", "pallet.network", "pallet.engine", "pallet.cli",
               "pallet.api"),
    "oci": ("pallet.runtime", "pallet.image", "pallet.network", "pallet.engine", "pallet.cli", "pallet.api"),
    "runtime": ("pallet.image", "pallet.network", "pallet.engine", "pallet.cli", "pallet.api"),
    "image": ("pallet.runtime", "pallet.network", "pallet.engine", "pallet.cli", "pallet.api"),
    "network": ("pallet.runtime", "pallet.image", "pallet.engine", "pallet.cli", "pallet.api"),
    "engine": ("pallet.cli", "pallet.api"),
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down(package: str) -> None:
    bad = []
    for path in sorted((SRC / package).rglob("*.py")):
        for name in _imports(path):
            if name.startswith(FORBIDDEN[package]):
                bad.append(f"{path.relative_to(SRC)} imports {name}")
    assert not bad, "\n".join(bad)


def test_ctypes_only_in_linux() -> None:
    bad = [
        str(path.relative_to(SRC))
        for path in _modules()
        if "_linux" not in path.parts and any(n.partition(".")[0] in ("ctypes", "_ctypes") for n in _imports(path))
    ]
    assert not bad, f"ctypes imported outside pallet._linux: {bad}"


def test_only_ffi_touches_ctypes() -> None:
    """The wrappers take their C types from pallet._linux.ffi (the ctypes package costs ~2.5 ms a start)."""
    bad = [
        str(path.relative_to(SRC))
        for path in sorted((SRC / "_linux").glob("*.py"))
        if path.name != "ffi.py" and any(n.partition(".")[0] in ("ctypes", "_ctypes") for n in _imports(path))
    ]
    assert not bad, f"pallet._linux modules importing ctypes themselves: {bad}"
