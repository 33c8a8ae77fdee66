"""parse_mount_options: flags, clears, propagation, recursive attributes, extensions and data."""

from __future__ import annotations

import pytest

from pallet._linux import consts as k
from pallet.errors import ValidationError
from pallet.oci import mountopts as m
from pallet.oci.mountopts import MountOptions, parse_mount_options


def test_runc_default_mount_options() -> None:
    dev = parse_mount_options(["nosuid", "strictatime", "mode=755", "size=65536k"])
    assert dev.flags == k.MS_NOSUID | k.MS_STRICTATIME
    assert dev.data == "mode=755,size=65536k"
    pts = parse_mount_options(["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"])
    assert pts.flags == k.MS_NOSUID | k.MS_NOEXEC
    assert pts.data == "newinstance,ptmxmode=0666,mode=0620,gid=5"
    cg = parse_mount_options(["nosuid", "noexec", "nodev", "relatime", "ro"])
    assert cg.flags == k.MS_NOSUID | k.MS_NOEXEC | k.MS_NODEV | k.MS_RELATIME | k.MS_RDONLY
    assert cg.readonly and not cg.bind and cg.data == ""


def test_later_options_override_earlier_ones() -> None:
    opts = parse_mount_options(["ro", "nosuid", "rw", "suid"])
    assert opts.flags == 0
    assert opts.clear == k.MS_RDONLY | k.MS_NOSUID
    again = parse_mount_options(["rw", "ro"])
    assert again.flags == k.MS_RDONLY and again.clear == 0


def test_bind_rbind_and_propagation_in_order() -> None:
    opts = parse_mount_options(["rbind", "ro", "rprivate", "shared"])
    assert opts.bind and opts.recursive_bind and opts.readonly
    assert opts.flags == k.MS_BIND | k.MS_REC | k.MS_RDONLY
    assert opts.propagation == [k.MS_PRIVATE | k.MS_REC, k.MS_SHARED]
    plain = parse_mount_options(["bind", "unbindable", "rslave"])
    assert plain.bind and not plain.recursive_bind
    assert plain.propagation == [k.MS_UNBINDABLE, k.MS_SLAVE | k.MS_REC]


def test_recursive_attributes_go_to_mount_setattr() -> None:
    opts = parse_mount_options(["rbind", "rro", "rnosuid", "rnodev", "rnoexec"])
    assert opts.flags == k.MS_BIND | k.MS_REC
    assert opts.attr_set == k.MOUNT_ATTR_RDONLY | k.MOUNT_ATTR_NOSUID | k.MOUNT_ATTR_NODEV | k.MOUNT_ATTR_NOEXEC
    assert opts.attr_clr == 0
    cleared = parse_mount_options(["rro", "rrw", "rsuid"])
    assert cleared.attr_set == 0
    assert cleared.attr_clr == k.MOUNT_ATTR_RDONLY | k.MOUNT_ATTR_NOSUID


def test_recursive_access_time_is_one_mode_that_clears_the_others() -> None:
    opts = parse_mount_options(["rnoatime"])
    assert opts.attr_set == m.MOUNT_ATTR_NOATIME and opts.attr_clr == m.MOUNT_ATTR__ATIME
    opts = parse_mount_options(["rnoatime", "rstrictatime"])
    assert opts.attr_set == m.MOUNT_ATTR_STRICTATIME and opts.attr_clr == m.MOUNT_ATTR__ATIME
    opts = parse_mount_options(["rstrictatime", "rrelatime"])
    assert opts.attr_set == m.MOUNT_ATTR_RELATIME == 0 and opts.attr_clr == m.MOUNT_ATTR__ATIME
    opts = parse_mount_options(["rnodiratime", "rnosymfollow"])
    assert opts.attr_set == m.MOUNT_ATTR_NODIRATIME | m.MOUNT_ATTR_NOSYMFOLLOW


def test_extensions_are_kept_apart_from_the_data() -> None:
    opts = parse_mount_options(["tmpcopyup", "idmap", "ridmap", "size=1m"])
    assert opts.extensions == {"tmpcopyup", "idmap", "ridmap"}
    assert opts.data == "size=1m"


def test_unknown_words_are_data_in_order_as_runc_passes_them() -> None:
    opts = parse_mount_options(["lowerdir=/a:/b", "userxattr", "nosuid", "upperdir=/u", "index=off"])
    assert opts.data == "lowerdir=/a:/b,userxattr,upperdir=/u,index=off"
    assert opts.flags == k.MS_NOSUID


def test_every_table_entry_parses_to_its_own_meaning() -> None:
    for name, (flag, clear) in m.MOUNT_OPTIONS.items():
        opts = parse_mount_options([name])
        if flag & k.MS_PROPAGATION:
            assert opts.propagation == [flag], name
        elif clear:
            assert (opts.flags, opts.clear) == (0, flag), name
        else:
            assert (opts.flags, opts.clear) == (flag, 0), name
        assert opts.data == "", name
    for name, (attr, _clear) in m.RECURSIVE_MOUNT_OPTIONS.items():
        opts = parse_mount_options([name])
        assert opts.flags == 0 and opts.data == "", name
        assert attr == 0 or attr & (opts.attr_set | opts.attr_clr), name


def test_known_options_cover_runc_mount_options() -> None:
    runc_1_1 = {
        "acl", "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion", "lazytime",
        "loud", "mand", "noacl", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime", "nomand",
        "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime",
        "relatime", "remount", "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime",
        "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared",
        "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent", "slave",
        "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable",
    }
    assert runc_1_1 <= set(m.known_mount_options())
    assert {"idmap", "ridmap"} <= set(m.known_mount_options())


@pytest.mark.parametrize(("options", "message"), [
    (["ro", ""], "mounts[2].options[1] must not be empty"),
    (["ro", 7], "mounts[2].options[1] must be a string, got 7 (a number)"),
    ([None], "mounts[2].options[0] must be a string, got null (null)"),
])
def test_bad_options_name_their_path(options: list[str], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_mount_options(options, "mounts[2].options")
    assert str(info.value) == message


def test_mount_options_compare_by_value() -> None:
    assert parse_mount_options(["ro", "x=1"]) == parse_mount_options(["ro", "x=1"])
    assert parse_mount_options(["ro"]) != parse_mount_options(["rw"])
    assert "flags=1" in repr(parse_mount_options(["ro"]))
    assert MountOptions() == parse_mount_options([])
