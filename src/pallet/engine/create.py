"""Creating a container: docker's Config + HostConfig checked, merged with the image, recorded.

``create_container(engine, config, hostconfig, name)`` is the one entry (CLI ``create``/``run`` and
the API's POST /containers/create).  Every value is checked before anything is made; on a failure
half-way, what was made is removed again, so bad input leaves nothing behind.
"""

from __future__ import annotations

import os

from pallet.engine.store import ZERO_TIME, check_name, now_iso
from pallet.errors import ConfigError, PalletError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.engine.images import ImageInfo
    from pallet.engine.service import Engine

    Record = dict[str, Any]

MIN_MEMORY = 6 * 1024 * 1024


def check_hostconfig(hc: Record, warnings: list[str] | None = None) -> None:
    """docker's checks of resource and policy values; ConfigError names the flag and the value.

    Settings the host cannot apply but docker accepts with a warning go to ``warnings``."""
    mem = int(hc.get("Memory") or 0)
    if mem < 0:
        raise ConfigError(f"invalid --memory {mem}: the memory limit must not be negative")
    if 0 < mem < MIN_MEMORY:
        raise ConfigError(f"invalid --memory {mem}: minimum memory limit allowed is 6MB")
    swap = int(hc.get("MemorySwap") or 0)
    if swap > 0 and mem == 0:
        raise ConfigError("invalid --memory-swap: you should always set the memory limit when using the memoryswap limit")
    if swap > 0 and swap < mem:
        raise ConfigError(f"invalid --memory-swap {swap}: minimum memoryswap limit should be larger than memory limit "
                          f"({mem}), see usage")
    if swap < -1:
        raise ConfigError(f"invalid --memory-swap {swap}: expected -1 (unlimited) or a size")
    res = int(hc.get("MemoryReservation") or 0)
    if res < 0 or (mem and res > mem):
        raise ConfigError(f"invalid --memory-reservation {res}: minimum memory limit can not be less than memory "
                          "reservation limit, see usage")
    nano = int(hc.get("NanoCpus") or 0)
    ncpu = os.cpu_count() or 1
    if nano < 0 or nano > ncpu * 1_000_000_000:
        raise ConfigError(f"invalid --cpus {nano / 1e9:g}: range of CPUs is from 0.01 to {ncpu}.00, "
                          "as there are only {ncpu} CPUs available".replace("{ncpu}", str(ncpu)))
    if nano and (hc.get("CpuQuota") or hc.get("CpuPeriod")):
        raise ConfigError("conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set")
    period = int(hc.get("CpuPeriod") or 0)
    if period and not 1000 <= period <= 1_000_000:
        raise ConfigError(f"invalid --cpu-period {period}: CPU cfs period can not be less than 1ms (i.e. 1000) or "
                          "larger than 1s (i.e. 1000000)")
    quota = int(hc.get("CpuQuota") or 0)
    if quota and quota != -1 and quota < 1000:
        raise ConfigError(f"invalid --cpu-quota {quota}: CPU cfs quota can not be less than 1ms (i.e. 1000)")
    shares = int(hc.get("CpuShares") or 0)
    if shares < 0:
        raise ConfigError(f"invalid --cpu-shares {shares}: must not be negative")
    for field, flag, limit in (("CpusetCpus", "--cpuset-cpus", ncpu), ("CpusetMems", "--cpuset-mems", _node_count())):
        value = hc.get(field) or ""
        if value:
            for n in _parse_list(value, flag):
                if n >= limit:
                    raise ConfigError(f"invalid {flag} {value!r}: requested {'CPUs' if field == 'CpusetCpus' else 'memory nodes'} "
                                      f"are not available (this host has 0-{limit - 1})")
    weight = int(hc.get("BlkioWeight") or 0)
    if weight and not 10 <= weight <= 1000:
        raise ConfigError(f"invalid --blkio-weight {weight}: range is from 10 to 1000")
    if weight and not _blkio_weight_supported():  # docker's answer: warn and leave the weight out
        if warnings is not None:
            warnings.append("Your kernel does not support Block I/O weight or the cgroup is not mounted. "
                            "Weight discarded.")
        hc["BlkioWeight"] = 0
    adj = int(hc.get("OomScoreAdj") or 0)
    if not -1000 <= adj <= 1000:
        raise ConfigError(f"invalid --oom-score-adj {adj}: the range is from -1000 to 1000")
    pids = hc.get("PidsLimit")
    if pids is not None and int(pids) < -1:
        raise ConfigError(f"invalid --pids-limit {pids}: expected -1 (unlimited) or a positive number")
    policy = hc.get("RestartPolicy") or {}
    if policy.get("Name") not in (None, "", "no", "always", "unless-stopped", "on-failure"):
        raise ConfigError(f"invalid --restart policy {policy.get('Name')!r} (allowed: no, always, unless-stopped, "
                          "on-failure[:max-retries])")
    if policy.get("Name") in ("always", "unless-stopped") and hc.get("AutoRemove"):
        raise ConfigError("conflicting options: cannot combine --restart and --rm")
    from pallet.engine.logs import check_log_config

    log = hc.get("LogConfig") or {}
    check_log_config(log.get("Type") or "json-file", log.get("Config") or {})
    from pallet.engine.specgen import resources, security_fields

    resources(hc)  # device paths and cgroup rules
    if hc.get("CapAdd") or hc.get("CapDrop") or hc.get("SecurityOpt"):
        # capabilities, --security-opt values, the seccomp profile file (the defaults cannot fail:
        # building them here and again for the bundle would cost ~5 ms of every run)
        security_fields(hc, warnings=warnings)
    mode = hc.get("UsernsMode") or ""
    if mode not in ("", "host"):
        raise ConfigError(f"invalid --userns {mode!r}: allowed is 'host' (the host's user namespace, "
                          "opting out of --userns-remap) or empty")


def _blkio_weight_supported() -> bool:
    v1 = "/sys/fs/cgroup/blkio"
    if os.path.isdir(v1):
        return any(os.path.exists(f"{v1}/{name}") for name in ("blkio.weight", "blkio.bfq.weight"))
    try:
        with open("/sys/fs/cgroup/cgroup.controllers") as f:
            return "io" in f.read().split()
    except OSError:
        return False


def _node_count() -> int:
    try:
        return len([d for d in os.listdir("/sys/devices/system/node") if d.startswith("node")]) or 1
    except OSError:
        return 1


def _parse_list(value: str, flag: str) -> list[int]:
    out: list[int] = []
    for part in value.split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ConfigError(f"invalid {flag} {value!r}: expected a list like 0-2,4")
        out.extend(range(int(lo), int(hi if sep else lo) + 1))
    return out


def merge_image(config: Record, image: ImageInfo) -> Record:
    """docker's rules for what the container runs: Entrypoint/Cmd/Env/WorkingDir/User from the image."""
    ic = image.config
    cfg = dict(config)
    if cfg.get("Entrypoint") is None:
        cfg["Entrypoint"] = ic.get("Entrypoint")
        if not cfg.get("Cmd"):
            cfg["Cmd"] = ic.get("Cmd")
    env: dict[str, str] = {}
    for item in list(ic.get("Env") or []) + list(cfg.get("Env") or []):
        key, _, _value = item.partition("=")
        env[key] = item
    cfg["Env"] = list(env.values())
    cfg["WorkingDir"] = cfg.get("WorkingDir") or ic.get("WorkingDir") or ""
    cfg["User"] = cfg.get("User") or ic.get("User") or ""
    cfg["Labels"] = {**(ic.get("Labels") or {}), **(cfg.get("Labels") or {})}
    cfg["StopSignal"] = cfg.get("StopSignal") or ic.get("StopSignal") or "SIGTERM"
    exposed = {**(ic.get("ExposedPorts") or {}), **(cfg.get("ExposedPorts") or {})}
    if exposed:
        cfg["ExposedPorts"] = exposed
    if ic.get("Volumes") and not cfg.get("Volumes"):
        cfg["Volumes"] = ic["Volumes"]
    return cfg


def create_container(engine: Engine, config: Record, hostconfig: Record, name: str | None = None,
                     warnings: list[str] | None = None) -> Record:
    """Create the container (not started); returns its record.  docker's create warnings (a
    setting this host cannot apply and leaves out) are appended to ``warnings``."""
    from pallet.engine import images
    from pallet.engine.service import new_state

    if name:
        name = check_name(name)
    check_hostconfig(hostconfig, warnings)
    rt_name = hostconfig.get("Runtime") or engine.default_runtime()
    engine.runtime(rt_name)  # an unknown runtime fails here, before anything exists
    image = images.find_image(engine.root, config.get("Image") or "")
    cfg = merge_image(config, image)
    argv = list(cfg.get("Entrypoint") or []) + list(cfg.get("Cmd") or [])
    if not argv:
        raise ConfigError("no command specified")
    from pallet.engine.networking import check_create

    endpoints = check_create(engine, cfg, hostconfig, (config.get("_NetworkingConfig") or {}).get("EndpointsConfig"))
    from pallet.engine.userns import resolve as resolve_userns

    userns = resolve_userns(engine.root, hostconfig, str(config.get("_UsernsRemap") or ""))
    if userns:
        from pallet.engine.userns import check_create as check_userns

        check_userns(engine, list(config.get("_Mounts") or []), userns)
    cid = engine.store.new_id()
    cfg.setdefault("Hostname", "")
    if not cfg["Hostname"]:
        cfg["Hostname"] = cid[:12]
    made: list[str] = []
    try:
        # The directory first: a name claimed by an id without a directory is taken for a stale
        # claim (a crash) and reclaimed, so claiming first let parallel creates both win the name.
        cdir = engine.store.create_dir(cid)
        made.append("dir")
        if name:
            engine.store.claim_name(name, cid)
        else:
            name = engine.store.random_name(cid)
        made.append("name")
        images.prepare_rootfs(engine.root, cid, image, durable=not hostconfig.get("AutoRemove"))
        made.append("snapshot")
        if config.get("_Mounts"):
            from pallet.engine.volumes import ensure_for_mounts

            ensure_for_mounts(engine.root, list(config.get("_Mounts") or []))
        log_path = os.path.join(cdir, f"{cid}-json.log")
        hostconfig = dict(hostconfig)
        hostconfig["Runtime"] = rt_name
        hostconfig.setdefault("LogConfig", {"Type": "json-file", "Config": {}})
        hostconfig.setdefault("RestartPolicy", {"Name": "no", "MaximumRetryCount": 0})
        hostconfig.setdefault("NetworkMode", "default")
        record: Record = {
            "Id": cid,
            "Created": now_iso(),
            "Path": argv[0],
            "Args": argv[1:],
            "State": new_state(),
            "Image": image.id,
            "ResolvConfPath": os.path.join(cdir, "resolv.conf"),
            "HostnamePath": os.path.join(cdir, "hostname"),
            "HostsPath": os.path.join(cdir, "hosts"),
            "LogPath": log_path if (hostconfig["LogConfig"].get("Type") or "json-file") == "json-file" else "",
            "Name": "/" + name,
            "RestartCount": 0,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "Mounts": list(config.get("_Mounts") or []),
            "Config": {k: v for k, v in cfg.items() if not k.startswith("_")},
            "HostConfig": hostconfig,
            "NetworkSettings": {"Bridge": "", "SandboxID": "", "Ports": {}, "IPAddress": "", "Gateway": "",
                                "MacAddress": "", "Networks": {}},
            "Pallet": {"ImageName": config.get("Image"), "StopRequested": False, "Endpoints": endpoints},
        }
        if userns:
            record["Pallet"]["Userns"] = userns
        record["State"]["FinishedAt"] = ZERO_TIME
        # A --rm container's record is not fsynced: it lives for one run, and a record lost in a
        # crash leaves a directory that is not listed as a container.
        engine.store.write(record, durable=not hostconfig.get("AutoRemove"))
    except BaseException:
        _undo(engine, cid, name or "", made)
        raise
    engine.event(record, "create")
    return record


def _undo(engine: Engine, cid: str, name: str, made: list[str]) -> None:
    from pallet.engine import images

    try:
        if "snapshot" in made:
            images.remove_rootfs(engine.root, cid)
    except PalletError:
        pass
    if "dir" in made:
        engine.store.remove_dir(cid)
    if "name" in made:
        engine.store.release_name(name, cid)
