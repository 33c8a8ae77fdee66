"""An index of pallet's own modules, with their compiled code, so that the launchers load them fast.

Every command pays its imports (about sixty of pallet's own modules for ``pallet-runtime run``, a
hundred for ``pallet run``).  Python finds each one through the path finders (a few stat calls and
some 35 us of importlib code per module), then its loader stats the source again, opens and checks
the cached bytecode and reads it: together 50-60 us a module, 3-4 ms of a run.  ``scripts/setup``
writes an index (``python -m pallet.modindex write <file>``) that holds, for every module of the
package, its dotted name, its source file under ``src`` with that file's mtime and size, and its
code compiled and marshalled, all in one file; the launchers install a finder that looks names up
there first (``install``).  A module's code is taken from the index only while its source has the
recorded mtime (to the nanosecond) and size; otherwise, and for a module the index does not name or
whose file is gone, Python's own loader and finders do the work as usual: a stale index (a module
changed, added or moved since setup) costs speed, never correctness.  The index also records the
bytecode's magic number, so an interpreter of another version uses only its paths.

The index file stays open (close-on-exec) while the finder is installed: a module's code is read
with one pread.  The runtime removes the finder together with ``sys.path`` once it is inside the
container's root filesystem (``uninstall``): from there, the index's paths would name files of the
container.
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec, SourceFileLoader
    from types import CodeType, ModuleType
else:
    SourceFileLoader = sys.modules["_frozen_importlib_external"].SourceFileLoader

_ext = sys.modules["_frozen_importlib_external"]
MAGIC = b"pallet-modules\n"
_HEAD = len(MAGIC) + 8  # then the bytecode's magic number (4 bytes), the header's length (4, little-endian)
# One module's entry: its source under the root, the source's st_mtime_ns and st_size when it was
# compiled, and where its marshalled code lies after the header (length 0: no code, see write).
Entry = tuple[str, int, int, int, int]


class BundledLoader(SourceFileLoader):
    """Python's source loader, but for code taken from the index while the source is unchanged."""

    def __init__(self, fullname: str, path: str, finder: IndexFinder, entry: Entry, st: os.stat_result) -> None:
        super().__init__(fullname, path)
        self.finder = finder
        self.entry = entry
        self.st = st

    def get_code(self, fullname: str) -> CodeType | None:
        code = self.finder.code(self.entry, self.st) if fullname == self.name else None
        return code if code is not None else super().get_code(fullname)


class IndexFinder:
    """A meta path finder for the modules named in an index file."""

    pallet_index = True

    def __init__(self, root: str, entries: dict[str, Entry], fd: int = -1, data_start: int = 0) -> None:
        self.root = root
        self.entries = entries
        self.fd = fd  # the index file, for the code (-1: paths only)
        self.data_start = data_start  # where the code begins in it
        self.file_id = (0, 0)  # its (st_dev, st_ino): the fd still names it
        if fd >= 0:
            st = os.fstat(fd)
            self.file_id = (st.st_dev, st.st_ino)

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        entry = self.entries.get(name)
        if entry is None:
            return None
        file = os.path.join(self.root, entry[0])
        try:
            st = os.stat(file)
        except OSError:
            return None
        return _ext.spec_from_file_location(  # type: ignore[no-any-return]
            name, file, loader=BundledLoader(name, file, self, entry, st))

    def code(self, entry: Entry, st: os.stat_result) -> CodeType | None:
        """The module's code from the index, or None where the source changed or it cannot be read."""
        _rel, mtime_ns, size, offset, length = entry
        if self.fd < 0 or length <= 0 or st.st_mtime_ns != mtime_ns or st.st_size != size:
            return None
        try:
            own = os.fstat(self.fd)  # still our file (not closed and its number reused)?
            if (own.st_dev, own.st_ino) != self.file_id:
                return None
            data = os.pread(self.fd, length, self.data_start + offset)
            return marshal.loads(data) if len(data) == length else None
        except (OSError, ValueError, EOFError, TypeError):
            return None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def invalidate_caches(self) -> None:
        pass


def open_index(index_file: str) -> IndexFinder:
    """The finder for ``index_file`` (raises OSError, or ValueError for a file that is no index)."""
    fd = os.open(index_file, os.O_RDONLY | os.O_CLOEXEC)
    try:
        head = os.read(fd, 65536)
        if not head.startswith(MAGIC) or len(head) < _HEAD:
            raise ValueError(f"{index_file} is not an index of pallet's modules")
        code_magic = head[len(MAGIC):len(MAGIC) + 4]
        size = int.from_bytes(head[len(MAGIC) + 4:_HEAD], "little")
        if len(head) < _HEAD + size:
            head += os.pread(fd, _HEAD + size - len(head), len(head))
        root, entries = marshal.loads(head[_HEAD:_HEAD + size])
        finder = IndexFinder(root, entries, fd, _HEAD + size)
    except BaseException:
        os.close(fd)
        raise
    if code_magic != _ext.MAGIC_NUMBER:  # written by another Python: its code is not ours to load
        finder.close()
    return finder


def read(index_file: str) -> dict[str, str]:
    """The modules the index names, and their source files."""
    finder = open_index(index_file)
    finder.close()
    return {name: os.path.join(finder.root, entry[0]) for name, entry in finder.entries.items()}


def install(index_file: str) -> IndexFinder | None:
    """Put a finder for ``index_file`` first on sys.meta_path; nothing if the file cannot be read."""
    try:
        finder = open_index(index_file)
    except (OSError, ValueError, EOFError, TypeError):
        return None
    sys.meta_path.insert(0, finder)
    return finder


def uninstall() -> None:
    """Remove every index finder from sys.meta_path, and close its file."""
    kept = []
    for finder in sys.meta_path:
        if getattr(finder, "pallet_index", False):
            finder.close()  # type: ignore[attr-defined]
        else:
            kept.append(finder)
    sys.meta_path[:] = kept


def write(index_file: str, root: str | None = None) -> int:
    """Write the index of every module of the ``pallet`` package under ``root`` (the directory that
    holds it; by default the one this module was loaded from); returns the number of modules.  A
    module that does not compile is indexed without code: importing it reports the error as usual."""
    root = os.path.abspath(root or os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    entries: dict[str, Entry] = {}
    chunks: list[bytes] = []
    offset = 0
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, "pallet")):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for fn in sorted(filenames):
            if not fn.endswith(".py"):
                continue
            path = os.path.join(dirpath, fn)
            rel = os.path.relpath(path, root)
            parts = rel[:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts.pop()
            st = os.stat(path)  # before the read: a change made meanwhile makes the entry stale
            with open(path, "rb") as f:
                source = f.read()
            try:
                data = marshal.dumps(compile(source, path, "exec", dont_inherit=True))
            except (SyntaxError, ValueError):
                data = b""
            entries[".".join(parts)] = (rel, st.st_mtime_ns, st.st_size, offset, len(data))
            chunks.append(data)
            offset += len(data)
    header = marshal.dumps((root, entries))
    from pallet.atomicfile import write_atomic

    write_atomic(index_file, b"".join([MAGIC, _ext.MAGIC_NUMBER, len(header).to_bytes(4, "little"), header,
                                       *chunks]))
    return len(entries)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "write":
        sys.stderr.write("usage: python -m pallet.modindex write <index file>\n")
        return 2
    count = write(argv[1])
    sys.stdout.write(f"{count} modules indexed in {argv[1]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
