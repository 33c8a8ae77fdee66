"""Paths docker hides (maskedPaths) or makes read-only (readonlyPaths) in a default container."""

from __future__ import annotations

MASKED_PATHS: tuple[str, ...] = (
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats", "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS: tuple[str, ...] = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def default_paths(privileged: bool = False, unconfined: bool = False) -> dict[str, list[str]]:
    """linux.maskedPaths and linux.readonlyPaths: docker's lists, none for --privileged or
    --security-opt systempaths=unconfined."""
    if privileged or unconfined:
        return {"maskedPaths": [], "readonlyPaths": []}
    return {"maskedPaths": list(MASKED_PATHS), "readonlyPaths": list(READONLY_PATHS)}
