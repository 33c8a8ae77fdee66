"""pallet.modindex: the launchers' index of pallet's modules (a shortcut that may go stale, never wrong)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pallet import modindex

SRC = Path(modindex.__file__).resolve().parent.parent


def test_index_names_every_module_of_the_package(tmp_path: Path) -> None:
    idx = tmp_path / "modules.idx"
    count = modindex.write(str(idx))
    entries = modindex.read(str(idx))
    assert len(entries) == count
    files = {str(p) for p in (SRC / "pallet").rglob("*.py") if "__pycache__" not in p.parts}
    assert set(entries.values()) == files
    assert entries["pallet"] == str(SRC / "pallet" / "__init__.py")
    assert entries["pallet.runtime.process.init"] == str(SRC / "pallet" / "runtime" / "process" / "init.py")
    assert entries["pallet.runtime.cgroups"] == str(SRC / "pallet" / "runtime" / "cgroups" / "__init__.py")


def _tree(root: Path) -> None:
    (root / "pallet" / "sub").mkdir(parents=True)
    (root / "pallet" / "__init__.py").write_text("")
    (root / "pallet" / "a.py").write_text("VALUE = 'a'\n")
    (root / "pallet" / "sub" / "__init__.py").write_text("")
    (root / "pallet" / "sub" / "b.py").write_text("from pallet import a\nVALUE = a.VALUE + 'b'\n")


def _python(code: str, *path: str) -> subprocess.CompletedProcess[str]:
    # -I -S: the standard library and what the code puts there; the real pallet is out of reach.
    return subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path += {list(path)!r}\n" + code],
                          capture_output=True, text=True)


def test_the_finder_loads_indexed_modules_and_falls_back(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _tree(tree)
    idx = tmp_path / "modules.idx"
    assert modindex.write(str(idx), str(tree)) == 4
    code = (f"sys.path.insert(0, {str(SRC)!r})\nfrom pallet import modindex\n"
            "sys.path.pop(0); del sys.modules['pallet.modindex'], sys.modules['pallet']\n"
            f"modindex.install({str(idx)!r})\n"
            "import pallet.sub.b\nprint(pallet.sub.b.VALUE, pallet.sub.b.__file__, pallet.__path__[0])")
    out = _python(code)
    assert out.returncode == 0, out.stderr
    value, file, pkg = out.stdout.split()
    assert value == "ab" and file == str(tree / "pallet" / "sub" / "b.py") and pkg == str(tree / "pallet")

    # Stale index: a module whose file is gone is looked for the usual way (here: nowhere).
    (tree / "pallet" / "a.py").unlink()
    out = _python(code)
    assert out.returncode != 0 and "cannot import name 'a' from 'pallet'" in out.stderr
    # A module the index does not name is found the usual way.
    (tree / "pallet" / "a.py").write_text("VALUE = 'AA'\n")  # another size: the cached bytecode is stale
    (tree / "pallet" / "c.py").write_text("VALUE = 'c'\n")
    out = _python(code.replace("import pallet.sub.b\n", "import pallet.sub.b, pallet.c\n"), str(tree))
    assert out.returncode == 0 and out.stdout.startswith("AAb "), out.stderr


def test_install_without_an_index_and_uninstall(tmp_path: Path) -> None:
    before = list(sys.meta_path)
    assert modindex.install(str(tmp_path / "missing.idx")) is None
    assert sys.meta_path == before
    idx = tmp_path / "modules.idx"
    modindex.write(str(idx))
    finder = modindex.install(str(idx))
    try:
        assert sys.meta_path[0] is finder
    finally:
        modindex.uninstall()
    assert sys.meta_path == before


def test_the_runtime_drops_the_index_with_the_import_path() -> None:
    # After pivot_root the index's host paths would name files in the container.
    code = (f"sys.path.insert(0, {str(SRC)!r})\n"
            f"from pallet import modindex\nmodindex.install({os.devnull!r}) or modindex.sys.meta_path.insert(0, "
            "modindex.IndexFinder({}))\n"
            "from pallet.runtime.process.init import cut_import_path\ncut_import_path()\n"
            "print(sum(getattr(f, 'pallet_index', False) for f in sys.meta_path), len(sys.path))")
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "0"]
