"""`docker cp`: files between a container and the host, through fds, running nothing of the container.

The container's side is reached through one directory fd: ``/proc/<pid>/root`` of a running (or
created) container, which sees its mounts (volumes, tmpfs) as the container does, or its snapshot
mounted for the copy while the container is stopped (the container's lock held, so that it cannot
start meanwhile).  The path given by the user is resolved below that fd by the kernel (openat2 with
RESOLVE_IN_ROOT): "..", absolute and relative symlinks all stay inside the container.  Below the
resolved top, every entry is opened relative to its parent's fd with O_NOFOLLOW: a symlink found in
the tree is copied as a symlink, never followed, and one found where a directory or a file is to be
written is replaced, never written through.

Sources (a tree walked by fds, or a tar stream on stdin) yield ``Entry`` objects; sinks (a directory
fd, or a tar stream on stdout) write them.  docker's rules decide where the top entry lands:

- a file to a missing path: saved under that name (the parent must exist; a trailing "/" is an error);
- a file to an existing file: overwritten; to an existing directory: copied into it;
- a directory to a missing path: created there with the source's contents;
- a directory to an existing directory: copied into it, or with ``SRC/.`` its contents copied into it;
- a directory to an existing file: an error.

Without ``-a`` copied files belong to root (uid 0 of the container, or the caller on the host);
with ``-a`` they keep their uid and gid.  Hard links in a tree are copied as separate files; those
of a tar stream are made again (within the destination).
"""

from __future__ import annotations

import errno
import os
import stat

from pallet.errors import ConfigError, NotFoundError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Callable, Iterator
    from typing import IO, Any

    from pallet.engine.service import Engine

    Record = dict[str, Any]
    Resolver = Callable[[str, int], int]

CHUNK = 1 << 20
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Entry:
    """One file of a copy: its path below the top (``parts[0]`` is the top's name) and metadata."""

    __slots__ = ("gid", "kind", "link", "mode", "mtime_ns", "open", "parts", "rdev", "size", "uid")

    def __init__(self, parts: list[str], kind: str, mode: int, *, uid: int = 0, gid: int = 0,
                 mtime_ns: int = 0, size: int = 0, link: str = "", rdev: int = 0) -> None:
        self.parts = parts
        self.kind = kind  # dir, file, symlink, fifo, char, block
        self.mode = mode & 0o7777
        self.uid = uid
        self.gid = gid
        self.mtime_ns = mtime_ns
        self.size = size
        self.link = link
        self.rdev = rdev
        self.open: Callable[[], IO[bytes]] | None = None


_KINDS = ((stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"), (stat.S_ISLNK, "symlink"), (stat.S_ISFIFO, "fifo"),
          (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block"))


def _kind(mode: int) -> str | None:
    for test, name in _KINDS:
        if test(mode):
            return name
    return None  # a socket: docker skips them too


# -- sources --------------------------------------------------------------------------------------

def walk(top_fd: int, top_name: str) -> Iterator[Entry]:
    """Every entry of the tree at ``top_fd`` (an O_PATH fd, not followed if a symlink), top first."""
    yield from _walk(top_fd, "", os.fstat(top_fd), [top_name])


def _walk(parent: int, name: str, st: os.stat_result, parts: list[str]) -> Iterator[Entry]:
    kind = _kind(st.st_mode)
    if kind is None:
        return
    entry = Entry(parts, kind, st.st_mode, uid=st.st_uid, gid=st.st_gid, mtime_ns=st.st_mtime_ns,
                  size=st.st_size, rdev=st.st_rdev)

    def reopen(flags: int) -> int:
        if not name:  # the top: our own O_PATH fd, reopened through /proc/self/fd
            return os.open(f"/proc/self/fd/{parent}", flags | os.O_CLOEXEC)
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)

    if kind == "symlink":
        entry.link = os.readlink(name, dir_fd=parent)
    elif kind == "file":
        entry.open = lambda: os.fdopen(reopen(os.O_RDONLY | os.O_NONBLOCK), "rb", buffering=0)
    yield entry
    if kind != "dir":
        return
    fd = reopen(os.O_RDONLY | os.O_DIRECTORY)
    try:
        for child in sorted(os.listdir(fd)):
            try:
                cst = os.stat(child, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:  # removed while we walk
                continue
            yield from _walk(fd, child, cst, [*parts, child])
    finally:
        os.close(fd)


def read_tar(stream: IO[bytes]) -> Iterator[Entry]:
    """The entries of a tar stream (``cp - CONTAINER:DIR``); names with ".." or absolute are refused."""
    import tarfile

    try:
        tf = tarfile.open(fileobj=stream, mode="r|*")
    except tarfile.TarError as exc:
        raise ConfigError(f"the archive on standard input cannot be read: {exc}") from None
    with tf:
        for m in tf:
            parts = [p for p in m.name.split("/") if p and p != "."]
            if ".." in parts:
                raise ConfigError(f"archive entry {m.name!r} leads outside the destination ('..' is not allowed)")
            if not parts:
                continue
            kind = ("dir" if m.isdir() else "file" if m.isreg() else "symlink" if m.issym() else "fifo" if m.isfifo()
                    else "char" if m.ischr() else "block" if m.isblk() else "hardlink" if m.islnk() else None)
            if kind is None:
                continue
            entry = Entry(["", *parts], kind, m.mode, uid=m.uid, gid=m.gid, mtime_ns=int(m.mtime * 1e9),
                          size=m.size, link=m.linkname, rdev=os.makedev(m.devmajor, m.devminor))
            if kind == "file":
                entry.open = _member_reader(tf, m)
            yield entry


def _member_reader(tf: tarfile.TarFile, member: tarfile.TarInfo) -> Callable[[], IO[bytes]]:
    def open_member() -> IO[bytes]:
        f = tf.extractfile(member)
        if f is None:
            raise ConfigError(f"archive entry {member.name!r} has no content to read")
        return f

    return open_member


# -- sinks ----------------------------------------------------------------------------------------

class DirSink:
    """Writes entries below the directory ``base_fd``: the top entry named ``rename`` (or, with
    ``contents``, the top's children directly in it; with neither, paths as they come)."""

    def __init__(self, base_fd: int, *, rename: str | None = None, contents: bool = False,
                 keep_owner: bool = False) -> None:
        self.base = base_fd
        self.rename = rename
        self.contents = contents
        self.keep_owner = keep_owner
        self.dirs: dict[tuple[str, ...], int] = {(): base_fd}
        self.finish_dirs: list[tuple[tuple[str, ...], Entry]] = []

    def _target(self, parts: list[str]) -> list[str]:
        if self.contents:
            return parts[1:]
        if self.rename is not None:
            return [self.rename, *parts[1:]]
        return parts[1:] if parts[0] == "" else parts

    def _dir(self, parts: tuple[str, ...]) -> int:
        """The fd of directory ``parts`` below the base, made if missing; never through a symlink."""
        fd = self.dirs.get(parts)
        if fd is not None:
            return fd
        parent = self._dir(parts[:-1])
        name = parts[-1]
        try:
            fd = os.open(name, _DIR, dir_fd=parent)
        except FileNotFoundError:
            os.mkdir(name, 0o755, dir_fd=parent)
            fd = os.open(name, _DIR, dir_fd=parent)
        except OSError as exc:
            if exc.errno not in (errno.ENOTDIR, errno.ELOOP):  # a file, or a symlink (O_NOFOLLOW)
                raise
            os.unlink(name, dir_fd=parent)  # a file or a symlink where a directory goes: replace it
            os.mkdir(name, 0o755, dir_fd=parent)
            fd = os.open(name, _DIR, dir_fd=parent)
        self.dirs[parts] = fd
        return fd

    def _clear(self, parent: int, name: str, path: str) -> None:
        """Remove what is at ``name`` (not a directory) so that a new entry can take its place."""
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError(f"cannot overwrite directory {path!r} with a non-directory")
        os.unlink(name, dir_fd=parent)

    def put(self, entry: Entry) -> None:
        target = self._target(entry.parts)
        if not target:
            return  # the top of a contents copy: its directory is the destination itself
        path = "/".join(target)
        parent = self._dir(tuple(target[:-1]))
        name = target[-1]
        if entry.kind == "dir":
            fd = self._dir(tuple(target))
            self.finish_dirs.append((tuple(target), entry))
            del fd
            return
        self._clear(parent, name, path)
        if entry.kind == "file":
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=parent)
            try:
                if entry.open is not None:
                    with entry.open() as src:
                        while True:
                            chunk = src.read(CHUNK)
                            if not chunk:
                                break
                            view = memoryview(chunk)
                            while view:
                                view = view[os.write(fd, view):]
                if self.keep_owner:
                    os.fchown(fd, entry.uid, entry.gid)
                os.fchmod(fd, entry.mode)
                os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
            finally:
                os.close(fd)
            return
        if entry.kind == "hardlink":  # from a tar stream: a link to an entry written before
            linked = self._target(["", *[p for p in entry.link.split("/") if p and p != "."]])
            if ".." in linked or not linked:
                raise ConfigError(f"archive entry {path!r}: hard link target {entry.link!r} is not in the archive")
            os.link(linked[-1], name, src_dir_fd=self._dir(tuple(linked[:-1])), dst_dir_fd=parent,
                    follow_symlinks=False)
            return
        if entry.kind == "symlink":
            os.symlink(entry.link, name, dir_fd=parent)
        else:
            kind = {"fifo": stat.S_IFIFO, "char": stat.S_IFCHR, "block": stat.S_IFBLK}[entry.kind]
            os.mknod(name, kind | entry.mode, entry.rdev, dir_fd=parent)
        if self.keep_owner:
            os.chown(name, entry.uid, entry.gid, dir_fd=parent, follow_symlinks=False)
        if entry.kind != "symlink":
            os.chmod(name, entry.mode, dir_fd=parent, follow_symlinks=False)
        os.utime(name, ns=(entry.mtime_ns, entry.mtime_ns), dir_fd=parent, follow_symlinks=False)

    def finish(self) -> None:
        """Directory modes, owners and times last (writing into a directory changes its time)."""
        for parts, entry in reversed(self.finish_dirs):
            fd = self.dirs[parts]
            if self.keep_owner:
                os.fchown(fd, entry.uid, entry.gid)
            os.fchmod(fd, entry.mode)
            os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))

    def close(self) -> None:
        for parts, fd in self.dirs.items():
            if parts:
                os.close(fd)
        self.dirs = {(): self.base}


def write_tar(entries: Iterator[Entry], out: IO[bytes]) -> None:
    """The entries as a tar stream (``cp CONTAINER:SRC -``)."""
    import tarfile

    types = {"dir": tarfile.DIRTYPE, "file": tarfile.REGTYPE, "symlink": tarfile.SYMTYPE,
             "fifo": tarfile.FIFOTYPE, "char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            info = tarfile.TarInfo("/".join(e.parts))
            info.type = types[e.kind]
            info.mode, info.uid, info.gid, info.mtime = e.mode, e.uid, e.gid, e.mtime_ns / 1e9
            info.linkname = e.link
            if e.kind in ("char", "block"):
                info.devmajor, info.devminor = os.major(e.rdev), os.minor(e.rdev)
            if e.kind == "file" and e.open is not None:
                with e.open() as src:
                    info.size = os.fstat(src.fileno()).st_size
                    tf.addfile(info, src)
            else:
                tf.addfile(info)


# -- the two directions ---------------------------------------------------------------------------

def _split(path: str) -> tuple[str, str]:
    """(parent, last component) of a path as typed; the last is "" for "dir/" and "." for "dir/."."""
    head, _, base = path.rpartition("/")
    if not _:
        head = "."
    return head or "/", base


def open_source(resolve: Resolver, path: str, follow: bool) -> tuple[int, str]:
    """An O_PATH fd of the copy's source (a final symlink not followed unless ``follow``), its name."""
    parent, base = _split(path)
    if follow or base in ("", ".", ".."):
        fd = resolve(path, os.O_PATH)
        name = os.path.basename(os.path.normpath(path.rstrip("/"))) if base in ("", ".", "..") else base
        return fd, name or "."
    pfd = resolve(parent, os.O_PATH | os.O_DIRECTORY)
    try:
        return os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd), base
    finally:
        os.close(pfd)


def plan_dest(resolve: Resolver, dest: str, src_is_dir: bool, contents: bool, src_name: str,
              where: str) -> tuple[int, str | None, bool]:
    """docker's rules: (directory fd to write in, name of the top entry or None, contents only)."""
    trailing = dest.endswith(("/", "/."))
    try:
        probe = resolve(dest, os.O_PATH)
    except FileNotFoundError:
        probe = -1
    if probe >= 0:
        try:
            is_dir = stat.S_ISDIR(os.fstat(probe).st_mode)
        finally:
            os.close(probe)
        if is_dir:
            fd = resolve(dest, os.O_RDONLY | os.O_DIRECTORY)
            return (fd, None, True) if (src_is_dir and contents) else (fd, src_name, False)
        if src_is_dir:
            raise ConfigError(f"cannot copy a directory to a file: {dest} ({where}) is a file")
        if trailing:
            raise ConfigError(f"destination {dest} ({where}) is not a directory")
    elif trailing and not src_is_dir:
        raise NotFoundError(f"destination directory {dest} ({where}) does not exist")
    parent, base = _split(dest.rstrip("/") or "/")
    try:
        fd = resolve(parent, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(f"no such directory: {parent} ({where}), the parent of destination {dest}") from None
    return fd, base, False


def _host_resolver(path: str, flags: int) -> int:
    return os.open(path or "/", flags | os.O_CLOEXEC)


class ContainerRoot:
    """The container's root directory as an fd, for the time of one copy (``with`` block)."""

    def __init__(self, engine: Engine, ref: str) -> None:
        self.engine = engine
        self.record = engine.get(ref)
        self.ref = ref
        self.fd = -1
        self.mounted = ""
        self.lock: object = None

    def __enter__(self) -> ContainerRoot:
        from pallet._linux.procfs import is_alive

        state = self.record["State"]
        cid = self.record["Id"]
        pid = int(state.get("Pid") or 0)
        if state.get("Running") and pid:
            self.fd = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            if is_alive(pid, (self.record.get("Pallet") or {}).get("PidStart")):
                return self
            os.close(self.fd)  # it exited (its pid may be another process's now): use the snapshot
            self.fd = -1
        from pallet.engine import bundle, images

        lock = self.engine.store.lock(cid)
        lock.__enter__()
        self.lock = lock
        try:
            fresh = self.engine.store.read(cid)
            if fresh["State"].get("Running"):
                from pallet.errors import StateError

                raise StateError(f"container {self.ref} started while the copy began: try again")
            target = bundle.rootfs_dir(self.engine, cid)
            images.unmount_rootfs(target)
            images.mount_rootfs(self.engine.root, cid, target)
            self.mounted = target
            self.fd = os.open(target, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except BaseException:
            self.__exit__()
            raise
        return self

    def resolve(self, path: str, flags: int) -> int:
        from pallet._linux.openat2 import open_in_root

        return open_in_root(self.fd, path, flags)

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.mounted:
            from pallet.engine import images

            images.unmount_rootfs(self.mounted)
            self.mounted = ""
        if self.lock is not None:
            self.lock.__exit__()  # type: ignore[attr-defined]
            self.lock = None


def _run(entries: Iterator[Entry], sink: DirSink) -> None:
    try:
        for entry in entries:
            sink.put(entry)
        sink.finish()
    finally:
        sink.close()


def copy_from_container(engine: Engine, ref: str, src: str, dest: str, *, follow: bool = False,
                        archive: bool = False, stdout: IO[bytes] | None = None) -> None:
    """``cp CONTAINER:SRC DEST`` (``DEST`` "-": a tar stream on ``stdout``)."""
    with ContainerRoot(engine, ref) as root:
        try:
            top, name = open_source(root.resolve, src, follow)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"Could not find the file {src} in container {ref}") from None
        try:
            if dest == "-":
                import sys

                write_tar(walk(top, name), stdout or sys.stdout.buffer)
                return
            _copy_tree(top, name, src, _host_resolver, dest, "on the host", archive)
        finally:
            os.close(top)


def copy_to_container(engine: Engine, ref: str, src: str, dest: str, *, follow: bool = False,
                      archive: bool = False, stdin: IO[bytes] | None = None) -> None:
    """``cp SRC CONTAINER:DEST`` (``SRC`` "-": a tar stream on ``stdin``, ``DEST`` a directory)."""
    where = f"in container {ref}"
    if src == "-":
        import sys

        with ContainerRoot(engine, ref) as root:
            try:
                base = root.resolve(dest, os.O_RDONLY | os.O_DIRECTORY)
            except (FileNotFoundError, NotADirectoryError):
                raise NotFoundError(f"destination directory {dest} ({where}) does not exist: with '-' as the "
                                    "source, the destination must be a directory") from None
            try:
                _run(read_tar(stdin or sys.stdin.buffer), DirSink(base, keep_owner=archive))
            finally:
                os.close(base)
        return
    try:
        top, name = open_source(_host_resolver, src, follow)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(f"no such file or directory on the host: {src}") from None
    try:
        with ContainerRoot(engine, ref) as root:
            _copy_tree(top, name, src, root.resolve, dest, where, archive)
    finally:
        os.close(top)


def _copy_tree(top: int, name: str, src: str, resolve: Resolver, dest: str, where: str, archive: bool) -> None:
    """The file or tree open at ``top`` (``src``, named ``name``) to ``dest`` found through ``resolve``,
    placed as docker cp places it (into, as, or the contents of a ``/.`` source)."""
    src_is_dir = stat.S_ISDIR(os.fstat(top).st_mode)
    base, rename, contents = plan_dest(resolve, dest, src_is_dir, src.endswith("/."), name, where)
    try:
        _run(walk(top, name), DirSink(base, rename=rename, contents=contents, keep_owner=archive))
    finally:
        os.close(base)
