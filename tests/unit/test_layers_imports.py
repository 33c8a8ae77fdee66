"""Imports point down the layers: cli/api -> engine -> image/network/runtime -> _linux.

Also: ctypes only in pallet._linux, and the runtime never imports the engine, images or networks
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
        if "_linux" not in path.parts and any(n == "ctypes" or n.startswith("ctypes.") for n in _imports(path))
    ]
    assert not bad, f"ctypes imported outside pallet._linux: {bad}"
