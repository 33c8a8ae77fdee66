"""An index of pallet's own modules, so that the launchers find them without searching directories.

Every command pays its imports (about a hundred modules for ``pallet run``).  Python finds each one
through the path finders: a few stat calls and some 35 us of importlib code per module, about 2.5 ms
of a run.  ``scripts/setup`` writes an index (``python -m pallet.modindex write <file>``: one line per
module, its dotted name and its file under ``src``) and the launchers install a finder that looks
names up there first (``install``).  The index is only a shortcut: a module it does not name, or
whose file is gone, is found the usual way, so a stale index (a module added or moved since setup)
costs speed, never correctness.  Modules are still loaded from their sources' cached bytecode by
Python's own loader.

The runtime removes the finder together with ``sys.path`` once it is inside the container's root
filesystem (``uninstall``): from there, the index's paths would name files of the container.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

_ext = sys.modules["_frozen_importlib_external"]


class IndexFinder:
    """A meta path finder for the modules named in an index file."""

    pallet_index = True

    def __init__(self, entries: dict[str, str]) -> None:
        self.entries = entries

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        file = self.entries.get(name)
        if file is None:
            return None
        try:
            os.stat(file)
        except OSError:
            return None
        if file.endswith("/__init__.py"):
            spec = _ext.spec_from_file_location(name, file, submodule_search_locations=[os.path.dirname(file)])
        else:
            spec = _ext.spec_from_file_location(name, file)
        return spec  # type: ignore[no-any-return]

    def invalidate_caches(self) -> None:
        pass


def read(index_file: str) -> dict[str, str]:
    """The index: its first line is the source root, then "<dotted name> <path under the root>"."""
    with open(index_file) as f:
        lines = f.read().splitlines()
    if not lines:
        return {}
    root = lines[0]
    entries: dict[str, str] = {}
    for line in lines[1:]:
        name, _, rel = line.partition(" ")
        if name and rel:
            entries[name] = os.path.join(root, rel)
    return entries


def install(index_file: str) -> IndexFinder | None:
    """Put a finder for ``index_file`` first on sys.meta_path; nothing if the file cannot be read."""
    try:
        entries = read(index_file)
    except (OSError, ValueError):
        return None
    finder = IndexFinder(entries)
    sys.meta_path.insert(0, finder)
    return finder


def uninstall() -> None:
    """Remove every index finder from sys.meta_path."""
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "pallet_index", False)]


def write(index_file: str, root: str | None = None) -> int:
    """Write the index of every module of the ``pallet`` package under ``root`` (the directory that
    holds it; by default the one this module was loaded from); returns the number of modules."""
    root = os.path.abspath(root or os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    lines = [root]
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, "pallet")):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for fn in sorted(filenames):
            if not fn.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, fn), root)
            parts = rel[:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts.pop()
            lines.append(f"{'.'.join(parts)} {rel}")
    from pallet.atomicfile import write_atomic

    write_atomic(index_file, "\n".join(lines) + "\n")
    return len(lines) - 1


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "write":
        sys.stderr.write("usage: python -m pallet.modindex write <index file>\n")
        return 2
    count = write(argv[1])
    sys.stdout.write(f"{count} modules indexed in {argv[1]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
