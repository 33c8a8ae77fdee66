"""Capability parsing (runtime) and docker's capability merge (engine)."""

from __future__ import annotations

import pytest

from pallet._linux.caps import CAP_NAMES, CAP_NUMBERS
from pallet.engine.security.capabilities import (
    DEFAULT_CAPABILITIES,
    merge_capabilities,
    oci_capabilities,
)
from pallet.errors import ConfigError, ValidationError
from pallet.runtime.capabilities import CapSets, cap_number, parse_capabilities


def bit(*names: str) -> int:
    return sum(1 << CAP_NUMBERS[n] for n in names)


def test_names_with_and_without_prefix_in_any_case() -> None:
    assert cap_number("CAP_CHOWN") == cap_number("chown") == cap_number("Chown") == 0
    assert cap_number("sys_admin") == 21
    assert cap_number("CAP_FLY") is None


def test_parse_all_five_sets() -> None:
    sets = parse_capabilities({
        "bounding": ["CAP_CHOWN", "KILL", "net_bind_service"],
        "effective": ["CAP_KILL"], "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"],
    }, last_cap=40)
    assert sets == CapSets(bit("CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"), bit("CAP_KILL"),
                           bit("CAP_KILL", "CAP_CHOWN"), bit("CAP_KILL"), bit("CAP_KILL"))
    assert sets.names("permitted") == ["CAP_CHOWN", "CAP_KILL"]


def test_missing_sets_are_empty_and_none_means_unchanged() -> None:
    sets = parse_capabilities({"bounding": ["CAP_KILL"]}, last_cap=40)
    assert sets.given and sets.effective == sets.inheritable == sets.ambient == 0
    assert not parse_capabilities(None).given
    assert repr(parse_capabilities(None)) == "CapSets(unchanged)"


def test_unknown_capability_names_the_path_and_value() -> None:
    with pytest.raises(ValidationError) as info:
        parse_capabilities({"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN", "CAP_TELEPORT"]})
    assert info.value.path == "process.capabilities.effective[1]"
    assert "'CAP_TELEPORT' is not a capability name" in str(info.value)
    with pytest.raises(ValidationError, match=r"process.capabilities.bounding\[0\] 7 is not"):
        parse_capabilities({"bounding": [7]})
    with pytest.raises(ValidationError, match=r"process.capabilities.sideways is not a capability set"):
        parse_capabilities({"sideways": []})
    with pytest.raises(ValidationError, match=r"process.capabilities.ambient must be a list"):
        parse_capabilities({"ambient": "CAP_KILL"})


def test_capabilities_above_the_kernel_are_skipped_with_a_warning() -> None:
    warnings: list[str] = []
    sets = parse_capabilities({"bounding": ["CAP_CHOWN", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]},
                              warn=warnings.append, last_cap=38)
    assert sets.bounding == bit("CAP_CHOWN")
    assert len(warnings) == 1 and "CAP_BPF" in warnings[0] and "CAP_CHECKPOINT_RESTORE" in warnings[0]
    assert "cap_last_cap 38" in warnings[0]


def test_docker_defaults() -> None:
    assert len(DEFAULT_CAPABILITIES) == 14
    assert bit(*DEFAULT_CAPABILITIES) == 0xA80425FB
    assert merge_capabilities(last_cap=40) == list(DEFAULT_CAPABILITIES)


def test_cap_add_and_cap_drop() -> None:
    caps = merge_capabilities(["net_admin", "CAP_SYS_PTRACE"], ["MKNOD", "cap_net_raw"], last_cap=40)
    assert "CAP_NET_ADMIN" in caps and "CAP_SYS_PTRACE" in caps
    assert "CAP_MKNOD" not in caps and "CAP_NET_RAW" not in caps and len(caps) == 14
    # docker drops first, then adds: a cap in both lists stays
    assert "CAP_KILL" in merge_capabilities(["KILL"], ["KILL"], last_cap=40)


def test_all_in_add_or_drop_and_privileged() -> None:
    every = list(CAP_NAMES[:41])
    assert merge_capabilities(["ALL"], ["SYS_ADMIN"], last_cap=40) == [c for c in every if c != "CAP_SYS_ADMIN"]
    assert merge_capabilities(["chown", "kill"], ["all"], last_cap=40) == ["CAP_CHOWN", "CAP_KILL"]
    assert merge_capabilities([], ["ALL"], last_cap=40) == []
    assert merge_capabilities([], ["ALL"], privileged=True, last_cap=40) == every
    assert merge_capabilities(privileged=True, last_cap=37) == every[:38]


def test_unknown_flag_value() -> None:
    with pytest.raises(ConfigError, match=r"invalid --cap-add value 'FLY': unknown capability"):
        merge_capabilities(["FLY"])
    with pytest.raises(ConfigError, match=r"invalid --cap-drop value 'cap_x'"):
        merge_capabilities([], ["cap_x"])


def test_oci_capabilities_for_root_and_other_users() -> None:
    root = oci_capabilities(["CAP_KILL"], 0)
    assert root == {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                    "inheritable": [], "ambient": []}
    user = oci_capabilities(["CAP_KILL"], 1000)
    assert user["bounding"] == ["CAP_KILL"] and user["effective"] == user["permitted"] == []


def test_all_means_what_the_runtime_may_pass_on() -> None:
    # A host whose root lacks CAP_SYS_RESOURCE (24) and CAP_MKNOD (27): --privileged and
    # --cap-add ALL leave them out, the defaults too; naming one in --cap-add keeps it (the
    # runtime then says it cannot grant it).
    every = list(CAP_NAMES[:41])
    bounding = ((1 << 41) - 1) & ~(1 << 24) & ~(1 << 27)
    without = [c for c in every if c not in ("CAP_SYS_RESOURCE", "CAP_MKNOD")]
    assert merge_capabilities(privileged=True, last_cap=40, bounding=bounding) == without
    assert merge_capabilities(["ALL"], last_cap=40, bounding=bounding) == without
    assert merge_capabilities(last_cap=40, bounding=bounding) == [c for c in DEFAULT_CAPABILITIES if c != "CAP_MKNOD"]
    assert "CAP_SYS_RESOURCE" in merge_capabilities(["SYS_RESOURCE"], last_cap=40, bounding=bounding)
    assert merge_capabilities(["SYS_RESOURCE", "chown"], ["ALL"], last_cap=40, bounding=bounding) == [
        "CAP_CHOWN", "CAP_SYS_RESOURCE"]
    assert "CAP_SYS_RESOURCE" in merge_capabilities(["ALL", "SYS_RESOURCE"], last_cap=40, bounding=bounding)
