"""pallet.modindex: the launchers' index of pallet's modules and their code (a shortcut that may go
stale, never wrong)."""

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


def _indexed_value(tree: Path, idx: Path, module: str = "pallet.a") -> subprocess.CompletedProcess[str]:
    code = (f"sys.path.insert(0, {str(SRC)!r})\nfrom pallet import modindex\n"
            "sys.path.pop(0); del sys.modules['pallet.modindex'], sys.modules['pallet']\n"
            f"modindex.install({str(idx)!r})\n"
            f"import {module} as m\nprint(m.VALUE, type(m.__loader__).__name__, m.__file__)")
    return _python(code, str(tree))


def _indexed_tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A small package indexed: its root, its module pallet.a, the index."""
    tree = tmp_path / "tree"
    _tree(tree)
    idx = tmp_path / "modules.idx"
    modindex.write(str(idx), str(tree))
    return tree, tree / "pallet" / "a.py", idx


def test_code_comes_from_the_index_while_the_source_is_unchanged(tmp_path: Path) -> None:
    tree, a, idx = _indexed_tree(tmp_path)
    st = a.stat()
    # The same size and mtime, other code: what runs is the index's (no file is read but the index).
    a.write_text("VALUE = 'x'\n")
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    out = _indexed_value(tree, idx)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["a", "BundledLoader", str(a)]
    # Another mtime: the source is read (by Python's own loader, through the same finder).
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    out = _indexed_value(tree, idx)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "x"
    # Another size, same mtime: the source again.
    a.write_text("VALUE = 'yy'\n")
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    out = _indexed_value(tree, idx)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "yy"


def test_an_index_of_another_python_gives_paths_only(tmp_path: Path) -> None:
    tree, a, idx = _indexed_tree(tmp_path)
    data = bytearray(idx.read_bytes())
    at = len(modindex.MAGIC)
    data[at:at + 4] = b"\x00\x00\r\n"  # another bytecode magic number
    idx.write_bytes(bytes(data))
    st = a.stat()
    a.write_text("VALUE = 'x'\n")
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    out = _indexed_value(tree, idx)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == ["x", "BundledLoader"]  # found through the index, loaded from source
    finder = modindex.open_index(str(idx))
    assert finder.fd == -1 and "pallet.a" in finder.entries


def test_a_module_that_does_not_compile_reports_its_error(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _tree(tree)
    (tree / "pallet" / "bad.py").write_text("VALUE = (\n")
    idx = tmp_path / "modules.idx"
    assert modindex.write(str(idx), str(tree)) == 5
    out = _indexed_value(tree, idx, "pallet.bad")
    assert out.returncode != 0
    assert "SyntaxError" in out.stderr and str(tree / "pallet" / "bad.py") in out.stderr


def test_code_is_not_read_through_a_reused_fd(tmp_path: Path) -> None:
    _tree_root, a, idx = _indexed_tree(tmp_path)
    finder = modindex.open_index(str(idx))
    entry, st = finder.entries["pallet.a"], os.stat(a)
    try:
        assert finder.code(entry, st) is not None
        # Closed behind the finder's back and the number taken by another file: no code from it.
        other = tmp_path / "other"
        other.write_bytes(idx.read_bytes())
        fd = os.open(other, os.O_RDONLY)
        os.dup2(fd, finder.fd)  # (a copy of the index: only its identity tells it apart)
        os.close(fd)
        assert finder.code(entry, st) is None
        os.close(finder.fd)
        assert finder.code(entry, st) is None  # closed
    finally:
        finder.fd = -1


def test_install_without_an_index_and_uninstall(tmp_path: Path) -> None:
    before = list(sys.meta_path)
    assert modindex.install(str(tmp_path / "missing.idx")) is None
    (tmp_path / "old.idx").write_text(f"{SRC}\npallet pallet/__init__.py\n")  # the index's first format
    assert modindex.install(str(tmp_path / "old.idx")) is None
    assert sys.meta_path == before
    idx = tmp_path / "modules.idx"
    modindex.write(str(idx))
    finder = modindex.install(str(idx))
    assert finder is not None
    fd = finder.fd
    try:
        assert sys.meta_path[0] is finder
        assert os.get_inheritable(fd) is False
    finally:
        modindex.uninstall()
    assert sys.meta_path == before
    assert finder.fd == -1
    try:
        os.fstat(fd)
        closed = False
    except OSError:
        closed = True
    assert closed


def test_the_runtime_drops_the_index_with_the_import_path() -> None:
    # After pivot_root the index's host paths would name files in the container.
    code = (f"sys.path.insert(0, {str(SRC)!r})\n"
            f"from pallet import modindex\nmodindex.install({os.devnull!r}) or modindex.sys.meta_path.insert(0, "
            "modindex.IndexFinder('', {}))\n"
            "from pallet.runtime.process.init import cut_import_path\ncut_import_path()\n"
            "print(sum(getattr(f, 'pallet_index', False) for f in sys.meta_path), len(sys.path))")
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "0"]
