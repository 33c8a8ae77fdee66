"""Checks of ``linux.resources``: devices, memory, cpu, pids, blockIO, hugepages, network, rdma, unified.

Only the shape and the ranges the spec and the kernel's interfaces define are checked here; what a
given host can apply (a controller that is missing, a weight its I/O scheduler refuses) is the
cgroup code's business, at the time it writes the value.
"""

from __future__ import annotations

from pallet.errors import ValidationError
from pallet.oci import _check as c
from pallet.oci.names import DEVICE_RULE_TYPES

_SIZE_UNITS = ("KB", "MB", "GB", "TB", "PB")


def _limit(value: object, path: str) -> int:
    """A memory size in bytes, or -1 for unlimited."""
    number = c.integer(value, path)
    if number < -1:
        raise ValidationError(path, f"must be a number of bytes or -1 (unlimited), got {number}")
    return number


def validate_resources(value: object, path: str) -> None:
    resources = c.obj(value, path)
    for check in (_devices, _memory, _cpu, _pids, _block_io, _hugepages, _network, _rdma, _unified):
        check(resources, path)


def _devices(resources: dict[str, object], path: str) -> None:
    for i, entry in enumerate(c.optional(resources, "devices", path, c.array) or ()):
        p = f"{path}.devices[{i}]"
        rule = c.obj(entry, p)
        c.boolean(c.required(rule, "allow", p), f"{p}.allow")
        c.optional(rule, "type", p, lambda v, q: c.one_of(v, q, DEVICE_RULE_TYPES, "a device rule type"))
        for name in ("major", "minor"):
            c.optional(rule, name, p, lambda v, q: c.integer(v, q, -1, c.UINT32_MAX))
        access = c.optional(rule, "access", p, c.string)
        if access and (set(access) - set("rwm") or len(set(access)) != len(access)):
            raise ValidationError(f"{p}.access", f"{c.show(access)} must be made of r, w and m, each at most once")


def _memory(resources: dict[str, object], path: str) -> None:
    memory = c.optional(resources, "memory", path, c.obj)
    if memory is None:
        return
    p = f"{path}.memory"
    sizes = {name: c.optional(memory, name, p, _limit) for name in ("limit", "reservation", "swap", "kernel", "kernelTCP")}
    c.optional(memory, "swappiness", p, lambda v, q: c.integer(v, q, 0, 100))
    for name in ("disableOOMKiller", "useHierarchy", "checkBeforeUpdate"):
        c.optional(memory, name, p, c.boolean)
    limit, swap = sizes["limit"], sizes["swap"]
    if limit and swap and limit > 0 and 0 < swap < limit:
        raise ValidationError(
            f"{p}.swap", f"{swap} must be at least {p}.limit {limit} (swap counts memory plus swap)"
        )


def _cpu(resources: dict[str, object], path: str) -> None:
    cpu = c.optional(resources, "cpu", path, c.obj)
    if cpu is None:
        return
    p = f"{path}.cpu"
    for name in ("shares", "burst", "period", "realtimePeriod"):
        c.optional(cpu, name, p, c.uint64)
    for name in ("quota", "realtimeRuntime"):
        c.optional(cpu, name, p, c.integer)
    for name in ("cpus", "mems"):
        c.optional(cpu, name, p, c.cpu_list)
    c.optional(cpu, "idle", p, lambda v, q: c.integer(v, q, 0, 1))


def _pids(resources: dict[str, object], path: str) -> None:
    pids = c.optional(resources, "pids", path, c.obj)
    if pids is not None:
        c.optional(pids, "limit", f"{path}.pids", c.integer)


def _major_minor(entry: dict[str, object], path: str) -> None:
    for name in ("major", "minor"):
        c.integer(c.required(entry, name, path), f"{path}.{name}", 0, c.UINT32_MAX)


def _block_io(resources: dict[str, object], path: str) -> None:
    blkio = c.optional(resources, "blockIO", path, c.obj)
    if blkio is None:
        return
    p = f"{path}.blockIO"
    weight = (lambda v, q: c.integer(v, q, 0, c.UINT16_MAX))  # noqa: E731
    c.optional(blkio, "weight", p, weight)
    c.optional(blkio, "leafWeight", p, weight)
    for i, entry in enumerate(c.optional(blkio, "weightDevice", p, c.array) or ()):
        q = f"{p}.weightDevice[{i}]"
        dev = c.obj(entry, q)
        _major_minor(dev, q)
        c.optional(dev, "weight", q, weight)
        c.optional(dev, "leafWeight", q, weight)
    for name in ("throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"):
        for i, entry in enumerate(c.optional(blkio, name, p, c.array) or ()):
            q = f"{p}.{name}[{i}]"
            dev = c.obj(entry, q)
            _major_minor(dev, q)
            c.uint64(c.required(dev, "rate", q), f"{q}.rate")


def _hugepages(resources: dict[str, object], path: str) -> None:
    for i, entry in enumerate(c.optional(resources, "hugepageLimits", path, c.array) or ()):
        p = f"{path}.hugepageLimits[{i}]"
        limit = c.obj(entry, p)
        size = c.string(c.required(limit, "pageSize", p), f"{p}.pageSize")
        number, unit = size[:-2], size[-2:]
        if not number.isdigit() or unit not in _SIZE_UNITS:
            raise ValidationError(f"{p}.pageSize", f"{c.show(size)} is not a page size (like 2MB or 1GB)")
        c.uint64(c.required(limit, "limit", p), f"{p}.limit")


def _network(resources: dict[str, object], path: str) -> None:
    network = c.optional(resources, "network", path, c.obj)
    if network is None:
        return
    p = f"{path}.network"
    c.optional(network, "classID", p, c.uint32)
    for i, entry in enumerate(c.optional(network, "priorities", p, c.array) or ()):
        q = f"{p}.priorities[{i}]"
        prio = c.obj(entry, q)
        c.string(c.required(prio, "name", q), f"{q}.name", nonempty=True)
        c.uint32(c.required(prio, "priority", q), f"{q}.priority")


def _rdma(resources: dict[str, object], path: str) -> None:
    rdma = c.optional(resources, "rdma", path, c.obj)
    for device, entry in (rdma or {}).items():
        p = c.item(f"{path}.rdma", device)
        limits = c.obj(entry, p)
        c.optional(limits, "hcaHandles", p, c.uint32)
        c.optional(limits, "hcaObjects", p, c.uint32)


def _unified(resources: dict[str, object], path: str) -> None:
    unified = c.optional(resources, "unified", path, c.obj)
    for name, value in (unified or {}).items():
        p = c.item(f"{path}.unified", name)
        controller, dot, file = name.partition(".")
        if not controller or not dot or not file or "/" in name:
            raise ValidationError(p, "is not a cgroup v2 file name (controller.file, like memory.max)")
        c.string(value, p)
