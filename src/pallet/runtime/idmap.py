"""Making a root filesystem usable by a container's mapped root.

Two ways, the first preferred:

- ``idmapped_bind``: an idmapped bind mount (open_tree(OPEN_TREE_CLONE), mount_setattr with
  MOUNT_ATTR_IDMAP and the container's user namespace, move_mount).  Nothing on disk changes: a
  file owned by uid 0 on disk shows as the namespace's root.  ``supports_idmap`` tells whether the
  filesystem under a path allows it.
- ``chown_copy`` / ``shift_owners``: the fallback, a copy (or the tree itself) with every owner
  shifted through the mapping, set-id bits and file capabilities kept.

Mappings are OCI ``linux.uidMappings`` / ``gidMappings`` lists of {containerID, hostID, size}.
"""

from __future__ import annotations

import os
import stat

from pallet.errors import RuntimeFailure, ValidationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    Mapping = dict[str, int]

_XATTR_CAPS = "security.capability"
_CAP_REV2 = 0x02000000
_CAP_REV3 = 0x03000000
_CAP_REV_MASK = 0xFF000000


def idmapped_bind(source: str, target: str, userns_fd: int, recursive: bool = True) -> None:
    """Bind ``source`` onto ``target`` with the id mapping of the user namespace open at ``userns_fd``."""
    from pallet._linux import consts as c
    from pallet._linux.mount import mount_setattr, move_mount, open_tree

    rec = c.AT_RECURSIVE if recursive else 0
    fd = open_tree(source, c.OPEN_TREE_CLONE | c.OPEN_TREE_CLOEXEC | rec)
    try:
        mount_setattr(fd, "", c.AT_EMPTY_PATH | rec, c.MOUNT_ATTR_IDMAP, userns_fd=userns_fd)
        move_mount(fd, "", c.AT_FDCWD, target, c.MOVE_MOUNT_F_EMPTY_PATH)
    finally:
        os.close(fd)


def make_userns(uid_mappings: Sequence[Mapping], gid_mappings: Sequence[Mapping]) -> int:
    """A new user namespace with these mappings, held by the returned O_CLOEXEC fd (no process
    stays in it).  Needs root (the maps are written from this namespace)."""
    from pallet._linux.consts import CLONE_NEWUSER
    from pallet._linux.ns import unshare

    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    done_r, done_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            os.close(ready_r)
            os.close(done_w)
            unshare(CLONE_NEWUSER)
            os.write(ready_w, b"1")
            os.read(done_r, 1)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise RuntimeFailure("cannot create a user namespace (unshare(CLONE_NEWUSER) failed in the helper)",
                                 step="userns")
        for name, maps in (("uid_map", uid_mappings), ("gid_map", gid_mappings)):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(format_mappings(maps))
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)


def format_mappings(mappings: Sequence[Mapping]) -> str:
    """The text of a /proc/PID/uid_map (or gid_map) for these mappings."""
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in mappings)


def supports_idmap(path: str, userns_fd: int | None = None) -> bool:
    """Whether an idmapped mount of the filesystem at ``path`` can be made (tried on a detached
    clone that is never attached; with no ``userns_fd`` a throwaway namespace is made)."""
    from pallet._linux import consts as c
    from pallet._linux.mount import mount_setattr, open_tree

    own = userns_fd is None
    try:
        fd_ns = make_userns(_PROBE_MAP, _PROBE_MAP) if own else userns_fd
    except (OSError, RuntimeFailure):
        return False
    assert fd_ns is not None
    try:
        fd = open_tree(path, c.OPEN_TREE_CLONE | c.OPEN_TREE_CLOEXEC)
    except OSError:
        if own:
            os.close(fd_ns)
        return False
    try:
        mount_setattr(fd, "", c.AT_EMPTY_PATH, c.MOUNT_ATTR_IDMAP, userns_fd=fd_ns)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        if own:
            os.close(fd_ns)


_PROBE_MAP: list[Mapping] = [{"containerID": 0, "hostID": 65534, "size": 1}]


def check_mappings(mappings: object, path: str) -> list[Mapping]:
    """Validate an OCI mapping list: integers, sizes > 0, no overlap on either side."""
    if not isinstance(mappings, list):
        raise ValidationError(path, f"must be a list of {{containerID, hostID, size}}, got {mappings!r}")
    out: list[Mapping] = []
    for i, m in enumerate(mappings):
        if not isinstance(m, dict):
            raise ValidationError(f"{path}[{i}]", f"must be an object with containerID, hostID, size, got {m!r}")
        for key in ("containerID", "hostID", "size"):
            v = m.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFFFFFFFF:
                raise ValidationError(f"{path}[{i}].{key}", f"{v!r} is not an id between 0 and 4294967295")
        if m["size"] == 0 or m["containerID"] + m["size"] > 1 << 32 or m["hostID"] + m["size"] > 1 << 32:
            raise ValidationError(f"{path}[{i}]", f"{m!r}: size must be at least 1 and the range end below 2^32")
        for j, prev in enumerate(out):
            for key in ("containerID", "hostID"):
                if m[key] < prev[key] + prev["size"] and prev[key] < m[key] + m["size"]:
                    raise ValidationError(f"{path}[{i}]", f"{key} range of {m!r} overlaps {path}[{j}] {prev!r}")
        out.append({"containerID": m["containerID"], "hostID": m["hostID"], "size": m["size"]})
    return out


def mapper(mappings: Sequence[Mapping], kind: str = "uid") -> Callable[[int], int]:
    """A function: container id -> host id through ``mappings``; an unmapped id raises RuntimeFailure."""
    ranges = sorted((m["containerID"], m["size"], m["hostID"]) for m in mappings)

    def to_host(cid: int) -> int:
        for start, size, host in ranges:
            if start <= cid < start + size:
                return host + cid - start
        raise RuntimeFailure(f"{kind} {cid} has no mapping to the host in {list(mappings)}", step="idmap")

    return to_host


def _shift_caps(value: bytes, root_uid: int) -> bytes:
    """A security.capability value made to apply to the namespace's root (v3 with its host uid)."""
    if len(value) < 20:
        return value
    magic = int.from_bytes(value[:4], "little")
    if magic & _CAP_REV_MASK not in (_CAP_REV2, _CAP_REV3):
        return value
    magic = (magic & ~_CAP_REV_MASK) | _CAP_REV3
    return magic.to_bytes(4, "little") + value[4:20] + root_uid.to_bytes(4, "little")


def _copy_xattrs(src: int | str, dst: int | str, root_uid: int, follow: bool = True) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=follow)
    except OSError:
        return
    for name in names:
        try:
            value = os.getxattr(src, name, follow_symlinks=follow)
            if name == _XATTR_CAPS:
                value = _shift_caps(value, root_uid)
            os.setxattr(dst, name, value, follow_symlinks=follow)
        except OSError:
            continue


class _Copier:
    def __init__(self, uid: Callable[[int], int], gid: Callable[[int], int], root_uid: int) -> None:
        self.uid, self.gid, self.root_uid = uid, gid, root_uid
        self.links: dict[tuple[int, int], tuple[int, str]] = {}
        self.open_dirs: list[int] = []

    def owner(self, st: os.stat_result) -> tuple[int, int]:
        return self.uid(st.st_uid), self.gid(st.st_gid)

    def copy_dir(self, src_fd: int, dst_fd: int) -> None:
        for entry in os.scandir(src_fd):
            name = entry.name
            st = entry.stat(follow_symlinks=False)
            uid, gid = self.owner(st)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(name, 0o700, dir_fd=dst_fd)
                s = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
                d = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst_fd)
                try:
                    self.copy_dir(s, d)
                    self.finish(s, d, st, uid, gid, mode)
                finally:
                    os.close(s)
                    os.close(d)
            elif stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(name, dir_fd=src_fd), name, dir_fd=dst_fd)
                os.chown(name, uid, gid, dir_fd=dst_fd, follow_symlinks=False)
                os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_fd, follow_symlinks=False)
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in self.links:
                    first_dir, first_name = self.links[key]
                    os.link(first_name, name, src_dir_fd=first_dir, dst_dir_fd=dst_fd)
                    continue
                s = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
                d = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                            dir_fd=dst_fd)
                try:
                    _copy_data(s, d, st.st_size)
                    self.finish(s, d, st, uid, gid, mode)
                finally:
                    os.close(s)
                    os.close(d)
                if st.st_nlink > 1:
                    keep = os.dup(dst_fd)
                    self.open_dirs.append(keep)
                    self.links[key] = (keep, name)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
                os.mknod(name, st.st_mode, st.st_rdev, dir_fd=dst_fd)
                os.chown(name, uid, gid, dir_fd=dst_fd, follow_symlinks=False)
                os.chmod(name, mode, dir_fd=dst_fd)
                os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_fd, follow_symlinks=False)
            # sockets are not copied: they are only meaningful to a process that listens on them

    def finish(self, src: int, dst: int, st: os.stat_result, uid: int, gid: int, mode: int) -> None:
        os.fchown(dst, uid, gid)
        _copy_xattrs(src, dst, self.root_uid)
        os.fchmod(dst, mode)  # after the chown, which clears set-id bits
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))

    def close(self) -> None:
        for fd in self.open_dirs:
            os.close(fd)


def _copy_data(src: int, dst: int, size: int) -> None:
    done = 0
    while done < size:
        try:
            n = os.copy_file_range(src, dst, size - done)
        except OSError:
            n = os.write(dst, os.read(src, 1 << 20))
        if n == 0:
            break
        done += n


def chown_copy(source: str, dest: str, uid_mappings: Sequence[Mapping], gid_mappings: Sequence[Mapping]) -> None:
    """Copy the tree ``source`` to ``dest`` (a new directory), every owner shifted from container ids
    to host ids; modes with set-id bits, times, hard links, devices and xattrs are kept, file
    capabilities are rewritten for the namespace's root.  Nothing is followed through symlinks."""
    uid, gid = mapper(uid_mappings, "uid"), mapper(gid_mappings, "gid")
    root_uid = uid(0) if any(m["containerID"] == 0 for m in uid_mappings) else 0
    st = os.lstat(source)
    if not stat.S_ISDIR(st.st_mode):
        raise RuntimeFailure(f"chown copy: source {source!r} is not a directory", step="idmap")
    os.mkdir(dest, 0o700)
    copier = _Copier(uid, gid, root_uid)
    s = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    d = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        copier.copy_dir(s, d)
        copier.finish(s, d, st, *copier.owner(st), stat.S_IMODE(st.st_mode))
    finally:
        os.close(s)
        os.close(d)
        copier.close()


def shift_owners(root: str, uid_mappings: Sequence[Mapping], gid_mappings: Sequence[Mapping]) -> int:
    """Shift the owners of the tree at ``root`` in place; returns the number of entries changed."""
    uid, gid = mapper(uid_mappings, "uid"), mapper(gid_mappings, "gid")
    root_uid = uid(0) if any(m["containerID"] == 0 for m in uid_mappings) else 0
    seen: set[tuple[int, int]] = set()
    count = 0
    for dirpath, dirnames, filenames, dfd in os.fwalk(root, follow_symlinks=False):
        names = [*filenames, *dirnames]
        if dirpath == root:
            names.append(".")
        for name in names:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            new_uid, new_gid = uid(st.st_uid), gid(st.st_gid)
            if stat.S_ISREG(st.st_mode):
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
                try:
                    try:
                        caps: bytes | None = os.getxattr(fd, _XATTR_CAPS)
                    except OSError:
                        caps = None
                    os.fchown(fd, new_uid, new_gid)
                    os.fchmod(fd, stat.S_IMODE(st.st_mode))  # the chown cleared set-id bits
                    if caps is not None:
                        os.setxattr(fd, _XATTR_CAPS, _shift_caps(caps, root_uid))
                finally:
                    os.close(fd)
            else:
                os.chown(name, new_uid, new_gid, dir_fd=dfd, follow_symlinks=False)
                if not stat.S_ISLNK(st.st_mode):
                    os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dfd)
            count += 1
    return count
