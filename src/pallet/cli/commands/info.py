"""`pallet info`: containers by state, images, storage and cgroup drivers, kernel, security, roots."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--format", help="Format output using a custom template")


def collect(ctx: Context) -> dict[str, Any]:
    import os

    from pallet import __version__
    from pallet.engine import images

    engine = ctx.engine()
    records = engine.list(all=True)
    running = sum(1 for r in records if r["State"]["Running"] and not r["State"]["Paused"])
    paused = sum(1 for r in records if r["State"]["Paused"])
    try:
        n_images = len(images.image_store(engine.root).list())
    except Exception:
        n_images = 0
    try:
        driver = images.snapshotter(engine.root).driver
    except Exception:
        driver = "unknown"
    v2 = not os.path.isdir("/sys/fs/cgroup/memory")
    uname = os.uname()
    return {
        "Containers": len(records), "ContainersRunning": running, "ContainersPaused": paused,
        "ContainersStopped": len(records) - running - paused, "Images": n_images,
        "Driver": "overlay2" if driver == "overlay" else driver,
        "CgroupDriver": "cgroupfs", "CgroupVersion": "2" if v2 else "1",
        "KernelVersion": uname.release, "OperatingSystem": _os_name(), "OSType": "linux",
        "Architecture": uname.machine, "NCPU": os.cpu_count() or 1, "MemTotal": _mem_total(),
        "ServerVersion": __version__, "DefaultRuntime": engine.default_runtime(),
        "Runtimes": {"pallet": {}, "runc": {}, "crun": {}},
        "SecurityOptions": ["name=seccomp,profile=builtin"] + (["name=cgroupns"] if v2 else []),
        "DockerRootDir": engine.root, "PalletRoot": engine.root, "PalletRunRoot": engine.runroot,
        "LoggingDriver": "json-file", "CgroupParent": engine.cgroup_parent(),
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _mem_total() -> int:
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) * 1024


def run(args: argparse.Namespace, ctx: Context) -> int:
    info = collect(ctx)
    if args.format:
        from pallet.cli.commands._common import render

        print(render(args.format, info))
        return 0
    print("Server:")
    print(f" Containers: {info['Containers']}")
    print(f"  Running: {info['ContainersRunning']}")
    print(f"  Paused: {info['ContainersPaused']}")
    print(f"  Stopped: {info['ContainersStopped']}")
    print(f" Images: {info['Images']}")
    print(f" Server Version: {info['ServerVersion']}")
    print(f" Storage Driver: {info['Driver']}")
    print(f" Logging Driver: {info['LoggingDriver']}")
    print(f" Cgroup Driver: {info['CgroupDriver']}")
    print(f" Cgroup Version: {info['CgroupVersion']}")
    print(f" Runtimes: {' '.join(info['Runtimes'])}")
    print(f" Default Runtime: {info['DefaultRuntime']}")
    print(" Security Options:")
    for opt in info["SecurityOptions"]:
        print(f"  {opt.split(',')[0].removeprefix('name=')}")
    print(f" Kernel Version: {info['KernelVersion']}")
    print(f" Operating System: {info['OperatingSystem']}")
    print(f" OSType: {info['OSType']}")
    print(f" Architecture: {info['Architecture']}")
    print(f" CPUs: {info['NCPU']}")
    print(f" Total Memory: {info['MemTotal'] / 1024**3:.3g}GiB")
    print(f" Pallet Root Dir: {info['PalletRoot']}")
    print(f" Pallet Run Root Dir: {info['PalletRunRoot']}")
    return 0
