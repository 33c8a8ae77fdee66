"""The mount options of config.json: what each one means to the kernel, and a parser.

``mounts[i].options`` mixes four kinds of words, and the runtime's mount code treats each kind in
its own step:

* mount(2) flags (``ro``, ``nosuid``, ``bind``, ``rbind``, ``remount``...): :data:`MOUNT_OPTIONS`;
* propagation (``private``, ``rshared``...): applied by separate mount(2) calls, in the order given;
* recursive attributes (``rro``, ``rnosuid``...): mount_setattr(2) with AT_RECURSIVE on the whole
  tree, as runc does: :data:`RECURSIVE_MOUNT_OPTIONS`;
* extensions the runtime handles itself (``tmpcopyup``, ``idmap``, ``ridmap``).

Every other word (``mode=755``, ``size=64k``, ``newinstance``, ``gid=5``) is file-system data,
passed to mount(2) unchanged in the order given, as runc does.  Later words override earlier ones
(``ro,rw`` is read-write).

This module is on the container start path: standard library only, no ``typing`` at run time.
"""

from __future__ import annotations

from pallet._linux.consts import (
    MOUNT_ATTR_NODEV,
    MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID,
    MOUNT_ATTR_RDONLY,
    MS_BIND,
    MS_DIRSYNC,
    MS_I_VERSION,
    MS_LAZYTIME,
    MS_MANDLOCK,
    MS_NOATIME,
    MS_NODEV,
    MS_NODIRATIME,
    MS_NOEXEC,
    MS_NOSUID,
    MS_NOSYMFOLLOW,
    MS_POSIXACL,
    MS_PRIVATE,
    MS_PROPAGATION,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    MS_SHARED,
    MS_SILENT,
    MS_SLAVE,
    MS_STRICTATIME,
    MS_SYNCHRONOUS,
    MS_UNBINDABLE,
)

# mount_setattr(2) attributes that pallet._linux.consts does not define yet (linux/mount.h).
MOUNT_ATTR_RELATIME = 0x00000000
MOUNT_ATTR_NOATIME = 0x00000010
MOUNT_ATTR_STRICTATIME = 0x00000020
MOUNT_ATTR__ATIME = 0x00000070
MOUNT_ATTR_NODIRATIME = 0x00000080
MOUNT_ATTR_NOSYMFOLLOW = 0x00200000

MOUNT_OPTIONS: dict[str, tuple[int, bool]] = {
    # option: (MS_* flag, True when the option clears the flag instead of setting it)
    "defaults": (0, False),
    "ro": (MS_RDONLY, False),
    "rw": (MS_RDONLY, True),
    "suid": (MS_NOSUID, True),
    "nosuid": (MS_NOSUID, False),
    "dev": (MS_NODEV, True),
    "nodev": (MS_NODEV, False),
    "exec": (MS_NOEXEC, True),
    "noexec": (MS_NOEXEC, False),
    "sync": (MS_SYNCHRONOUS, False),
    "async": (MS_SYNCHRONOUS, True),
    "dirsync": (MS_DIRSYNC, False),
    "remount": (MS_REMOUNT, False),
    "mand": (MS_MANDLOCK, False),
    "nomand": (MS_MANDLOCK, True),
    "atime": (MS_NOATIME, True),
    "noatime": (MS_NOATIME, False),
    "diratime": (MS_NODIRATIME, True),
    "nodiratime": (MS_NODIRATIME, False),
    "relatime": (MS_RELATIME, False),
    "norelatime": (MS_RELATIME, True),
    "strictatime": (MS_STRICTATIME, False),
    "nostrictatime": (MS_STRICTATIME, True),
    "lazytime": (MS_LAZYTIME, False),
    "nolazytime": (MS_LAZYTIME, True),
    "iversion": (MS_I_VERSION, False),
    "noiversion": (MS_I_VERSION, True),
    "acl": (MS_POSIXACL, False),
    "noacl": (MS_POSIXACL, True),
    "silent": (MS_SILENT, False),
    "loud": (MS_SILENT, True),
    "nosymfollow": (MS_NOSYMFOLLOW, False),
    "symfollow": (MS_NOSYMFOLLOW, True),
    "bind": (MS_BIND, False),
    "rbind": (MS_BIND | MS_REC, False),
    # propagation: each is its own mount(2) call after the mount itself
    "private": (MS_PRIVATE, False),
    "rprivate": (MS_PRIVATE | MS_REC, False),
    "shared": (MS_SHARED, False),
    "rshared": (MS_SHARED | MS_REC, False),
    "slave": (MS_SLAVE, False),
    "rslave": (MS_SLAVE | MS_REC, False),
    "unbindable": (MS_UNBINDABLE, False),
    "runbindable": (MS_UNBINDABLE | MS_REC, False),
}

RECURSIVE_MOUNT_OPTIONS: dict[str, tuple[int, bool]] = {
    # option: (MOUNT_ATTR_* attribute, True when the option clears it), applied with AT_RECURSIVE
    "rro": (MOUNT_ATTR_RDONLY, False),
    "rrw": (MOUNT_ATTR_RDONLY, True),
    "rnosuid": (MOUNT_ATTR_NOSUID, False),
    "rsuid": (MOUNT_ATTR_NOSUID, True),
    "rnodev": (MOUNT_ATTR_NODEV, False),
    "rdev": (MOUNT_ATTR_NODEV, True),
    "rnoexec": (MOUNT_ATTR_NOEXEC, False),
    "rexec": (MOUNT_ATTR_NOEXEC, True),
    "rnodiratime": (MOUNT_ATTR_NODIRATIME, False),
    "rdiratime": (MOUNT_ATTR_NODIRATIME, True),
    "rrelatime": (MOUNT_ATTR_RELATIME, False),
    "rnorelatime": (MOUNT_ATTR_RELATIME, True),
    "rnoatime": (MOUNT_ATTR_NOATIME, False),
    "ratime": (MOUNT_ATTR_NOATIME, True),
    "rstrictatime": (MOUNT_ATTR_STRICTATIME, False),
    "rnostrictatime": (MOUNT_ATTR_STRICTATIME, True),
    "rnosymfollow": (MOUNT_ATTR_NOSYMFOLLOW, False),
    "rsymfollow": (MOUNT_ATTR_NOSYMFOLLOW, True),
}

# The access-time words of the recursive table: the kernel takes one access-time mode at a time,
# and setting one requires MOUNT_ATTR__ATIME in attr_clr.
_RECURSIVE_ATIME = frozenset(
    {"rrelatime", "rnorelatime", "rnoatime", "ratime", "rstrictatime", "rnostrictatime"}
)

EXTENSION_OPTIONS: tuple[str, ...] = ("tmpcopyup", "idmap", "ridmap")
"""Options the runtime implements itself rather than passing to the kernel."""


def known_mount_options() -> list[str]:
    """Every option word with a meaning of its own (the features document's ``mountOptions``)."""
    return sorted({*MOUNT_OPTIONS, *RECURSIVE_MOUNT_OPTIONS, *EXTENSION_OPTIONS})


class MountOptions:
    """The parsed ``options`` of one mount.

    ``flags``: MS_* flags for mount(2) (bind, ro, nosuid...); ``clear``: MS_* flags an option asked
    to clear (``rw``, ``suid``...), which matters for a remount of a bind mount; ``propagation``:
    MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (with MS_REC for the r* words), one mount(2) call
    each, in order; ``attr_set``/``attr_clr``: mount_setattr(2) attributes for the recursive
    words; ``data``: the file-system data string; ``extensions``: tmpcopyup, idmap, ridmap.
    """

    __slots__ = ("attr_clr", "attr_set", "clear", "data", "extensions", "flags", "propagation")

    def __init__(self) -> None:
        self.flags = 0
        self.clear = 0
        self.propagation: list[int] = []
        self.attr_set = 0
        self.attr_clr = 0
        self.data = ""
        self.extensions: set[str] = set()

    @property
    def bind(self) -> bool:
        """True for ``bind`` and ``rbind``."""
        return bool(self.flags & MS_BIND)

    @property
    def recursive_bind(self) -> bool:
        """True for ``rbind``."""
        return self.flags & (MS_BIND | MS_REC) == MS_BIND | MS_REC

    @property
    def readonly(self) -> bool:
        return bool(self.flags & MS_RDONLY)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MountOptions):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in sorted(self.__slots__))
        return f"MountOptions({fields})"


def parse_mount_options(options: list[str], path: str = "options") -> MountOptions:
    """Parse the ``options`` of a mount; ``path`` (``mounts[3].options``) names it in errors.

    Raises :class:`pallet.errors.ValidationError` for an option that is not a string or is empty.
    """
    result = MountOptions()
    data: list[str] = []
    for i, option in enumerate(options):
        if not isinstance(option, str) or not option:
            from pallet.oci._check import string

            string(option, f"{path}[{i}]", nonempty=True)
        known = MOUNT_OPTIONS.get(option)
        if known is not None:
            flag, clear = known
            if flag & MS_PROPAGATION:
                result.propagation.append(flag)
            elif clear:
                result.flags &= ~flag
                result.clear |= flag
            else:
                result.flags |= flag
                result.clear &= ~flag
            continue
        recursive = RECURSIVE_MOUNT_OPTIONS.get(option)
        if recursive is not None:
            attr, clear = recursive
            if option in _RECURSIVE_ATIME:
                # one access-time mode replaces the previous one
                result.attr_set &= ~MOUNT_ATTR__ATIME
                result.attr_clr |= MOUNT_ATTR__ATIME
                if not clear:
                    result.attr_set |= attr
            elif clear:
                result.attr_set &= ~attr
                result.attr_clr |= attr
            else:
                result.attr_set |= attr
                result.attr_clr &= ~attr
            continue
        if option in EXTENSION_OPTIONS:
            result.extensions.add(option)
            continue
        data.append(option)
    result.data = ",".join(data)
    return result
