"""`run`/`create` flags, each checked by its effect inside the container or on the host; bad input; --help."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from tests.helpers.cli import Pallet


def run(p: Pallet, *args: str) -> str:
    return p.out("run", "--rm", "--network", "none", *args)


def test_env_workdir_user_entrypoint_hostname(pallet: Pallet, tmp_path: Path) -> None:
    env = tmp_path / "env"
    env.write_text("# a comment\nA=1\nB=two words\n\nC\n")
    out = run(pallet, "--env-file", str(env), "-e", "A=override", "busybox", "sh", "-c", 'echo "$A|$B|${C-unset}"')
    assert out == "override|two words|unset"
    assert run(pallet, "-w", "/made/for/me", "busybox", "pwd") == "/made/for/me"
    assert run(pallet, "-u", "nobody", "busybox", "id") == "uid=65534(nobody) gid=65534(nobody)"
    assert run(pallet, "-u", "1234:5678", "busybox", "id").startswith("uid=1234 gid=5678")
    assert run(pallet, "--entrypoint", "echo", "busybox", "a", "b") == "a b"
    assert run(pallet, "--hostname", "box.example", "busybox", "hostname") == "box.example"
    proc = pallet("run", "--rm", "-u", "nosuchuser", "busybox", "id", check=False)
    assert proc.returncode == 125 and "nosuchuser" in proc.stderr


def test_user_lookup_runs_nothing_from_the_image(pallet: Pallet) -> None:
    # A passwd that names the user: looked up by reading the file, not by running getent/id in the image.
    cid = pallet.out("create", "--name", "usr", "-u", "svc", "busybox", "id")
    upper = Path(pallet.inspect(cid)["GraphDriver"]["Data"]["UpperDir"])
    (upper / "etc").mkdir()
    passwd = pallet.out("run", "--rm", "busybox", "cat", "/etc/passwd")
    (upper / "etc" / "passwd").write_text(passwd + "\nsvc:x:4321:4322::/home/svc:/bin/false\n")
    assert pallet("start", "-a", "usr").stdout.strip() == "uid=4321(svc) gid=4322"


def test_mounts_tmpfs_read_only(pallet: Pallet, tmp_path: Path) -> None:
    src = tmp_path / "bind"
    src.mkdir()
    (src / "f").write_text("host\n")
    assert run(pallet, "-v", f"{src}:/b", "busybox", "sh", "-c", "cat /b/f; echo c > /b/new") == "host"
    assert (src / "new").read_text() == "c\n"
    proc = pallet("run", "--rm", "-v", f"{src}:/b:ro", "busybox", "touch", "/b/x", check=False)
    assert proc.returncode == 1 and "Read-only" in proc.stderr
    out = run(pallet, "--mount", f"type=bind,source={src},target=/m,readonly", "busybox", "sh", "-c",
              "cat /m/f; grep ' /m ' /proc/mounts")
    assert out.splitlines()[0] == "host" and " ro," in out.splitlines()[1]
    run(pallet, "-v", "named:/data", "busybox", "sh", "-c", "echo kept > /data/x")
    assert run(pallet, "-v", "named:/data", "busybox", "cat", "/data/x") == "kept"
    out = run(pallet, "--tmpfs", "/t:size=1m", "--mount", "type=tmpfs,destination=/t2", "busybox", "sh", "-c",
              "grep -E ' /t2? ' /proc/mounts")
    lines = sorted(out.splitlines())
    assert lines[0].startswith("tmpfs /t tmpfs") and "size=1024k" in lines[0]
    assert lines[1].startswith("tmpfs /t2 tmpfs")
    proc = pallet("run", "--rm", "--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c",
                  "touch /scratch/ok && touch /x", check=False)
    assert proc.returncode == 1 and "Read-only file system" in proc.stderr


def test_resource_flags_reach_the_cgroup(pallet: Pallet) -> None:
    script = ("C=/sys/fs/cgroup; cat $C/cpu/cpu.cfs_quota_us $C/cpu/cpu.cfs_period_us $C/cpu/cpu.shares "
              "$C/memory/memory.limit_in_bytes $C/memory/memory.memsw.limit_in_bytes "
              "$C/memory/memory.soft_limit_in_bytes $C/pids/pids.max $C/cpuset/cpuset.cpus $C/cpuset/cpuset.mems "
              "$C/blkio/blkio.throttle.read_bps_device $C/blkio/blkio.throttle.write_bps_device "
              "$C/blkio/blkio.throttle.read_iops_device $C/blkio/blkio.throttle.write_iops_device "
              "$C/memory/memory.oom_control | grep -v under_oom | grep -v oom_kill\\ ")
    if not Path("/sys/fs/cgroup/memory").is_dir():
        pytest.skip("the checks below read cgroup v1 files")
    out = run(pallet, "--cpu-quota", "30000", "--cpu-period", "60000", "-c", "512", "-m", "32m",
              "--memory-swap", "64m", "--memory-reservation", "16m", "--pids-limit", "50", "--cpuset-cpus", "0",
              "--cpuset-mems", "0", "--device-read-bps", "/dev/vda:1mb", "--device-write-bps", "/dev/vda:2mb",
              "--device-read-iops", "/dev/vda:100", "--device-write-iops", "/dev/vda:200", "--oom-kill-disable",
              "busybox", "sh", "-c", script)
    assert out.split("\n") == ["30000", "60000", "512", str(32 << 20), str(64 << 20), str(16 << 20), "50", "0", "0",
                               "254:0 1048576", "254:0 2097152", "254:0 100", "254:0 200", "oom_kill_disable 1"]
    assert run(pallet, "--cpus", "1.5", "busybox", "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us") == "150000"
    # the limits hold: memory beyond -m is refused (OOM), a fork beyond --pids-limit fails
    proc = pallet("run", "--rm", "--pids-limit", "6", "busybox", "sh", "-c",
                  "(for i in 1 2 3 4 5 6 7 8; do sleep 2 & done) 2>/tmp/err; grep -c 'can.t fork' /tmp/err",
                  check=False)
    assert int(proc.stdout.strip() or 0) >= 1, proc.stdout + proc.stderr
    proc = pallet("run", "--rm", "--blkio-weight", "300", "busybox", "true", check=False)
    assert proc.returncode == 0
    if not Path("/sys/fs/cgroup/blkio/blkio.weight").exists():
        assert "Weight discarded" in proc.stderr


def test_devices_ulimits_sysctls_oom_score(pallet: Pallet) -> None:
    out = run(pallet, "--device", "/dev/null:/dev/mynull:rw", "busybox", "sh", "-c",
              "ls -l /dev/mynull; echo x > /dev/mynull && echo wrote")
    assert re.match(r"crw-rw-rw-\s+1 root\s+root\s+1,\s+3 ", out) and out.endswith("wrote")
    if Path("/dev/loop0").exists():  # block 7:0 is not in docker's default device rules
        probe = "mknod /dev/lp b 7 0 && dd if=/dev/lp of=/dev/null count=1 2>/dev/null && echo allowed"
        proc = pallet("run", "--rm", "busybox", "sh", "-c", probe, check=False)
        assert proc.returncode != 0 and proc.stdout == ""
        assert run(pallet, "--device-cgroup-rule", "b 7:0 r", "busybox", "sh", "-c", probe) == "allowed"
    assert run(pallet, "--ulimit", "nofile=100:200", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn").split() == \
        ["100", "200"]
    assert run(pallet, "--sysctl", "net.ipv4.ip_forward=1", "busybox", "cat", "/proc/sys/net/ipv4/ip_forward") == "1"
    assert run(pallet, "--oom-score-adj", "500", "busybox", "cat", "/proc/self/oom_score_adj") == "500"


def test_labels_stop_settings_in_config(pallet: Pallet) -> None:
    pallet("create", "--name", "cfg", "-l", "a=1", "--label", "b=", "--stop-signal", "SIGUSR1",
           "--stop-timeout", "3", "busybox", "true")
    cfg = pallet.inspect("cfg")["Config"]
    assert cfg["Labels"] == {"a": "1", "b": ""} and cfg["StopSignal"] == "SIGUSR1" and cfg["StopTimeout"] == 3


@pytest.mark.parametrize(("flags", "named"), [
    (["--memory=-1g"], "-1g"),
    (["-m", "5m"], "6MB"),
    (["--cpus", "64"], "--cpus"),
    (["--cpus", "lots"], "lots"),
    (["--cpuset-cpus", "7"], "--cpuset-cpus"),
    (["--device-write-iops", "/dev/zero:10"], "not a block device"),
    (["--device-read-bps", "/dev/nonexistent:1m"], "/dev/nonexistent"),
    (["--cap-drop", "CAP_BOGUS"], "CAP_BOGUS"),
    (["--restart", "on-failure:x"], "on-failure:x"),
    (["--restart", "always:3"], "always:3"),
    (["-v", "/proc//x"], "/proc//x"),
    (["-v", "rel/path:/x"], "rel/path"),
    (["-v", "/nonexistent-src:/x"], "/nonexistent-src"),
    (["--mount", "type=weird,target=/x"], "weird"),
    (["--tmpfs", "relative"], "relative"),
    (["--env-file", "/nonexistent/env.list"], "/nonexistent/env.list"),
    (["--ulimit", "nofile=10:5"], "nofile=10:5"),
    (["--ulimit", "bogus=1"], "bogus=1"),
    (["--oom-score-adj", "2000"], "2000"),
    (["--blkio-weight", "5"], "--blkio-weight"),
    (["--cpu-quota", "500"], "--cpu-quota"),
    (["--memory-swap", "8m", "-m", "16m"], "--memory-swap"),
    (["--pids-limit", "-5"], "--pids-limit"),
    (["--stop-signal", "NOTASIG"], "NOTASIG"),
    (["--log-driver", "journald"], "journald"),
    (["--device", "/dev/nonexistent-dev"], "/dev/nonexistent-dev"),
    (["--name=-bad"], "-bad"),
])
def test_bad_input_names_the_value(pallet: Pallet, flags: list[str], named: str) -> None:
    proc = pallet("run", "--rm", *flags, "busybox", "true", check=False)
    assert proc.returncode == 125, proc.stderr
    assert named in proc.stderr and proc.stderr.startswith(("Error: ", "pallet: ")), proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2  # one clear message (plus the --help hint)
    assert pallet.out("ps", "-aq") == ""


def test_unknown_names(pallet: Pallet) -> None:
    for cmd in (["start"], ["stop"], ["kill"], ["rm"], ["restart"], ["pause"], ["unpause"], ["wait"],
                ["logs"], ["top"], ["port"], ["exec", "nosuch", "true"], ["update", "-m", "10m"]):
        args = [*cmd, "nosuch"] if cmd[0] != "exec" else cmd
        proc = pallet(*args, check=False)
        # docker exits 1 for a daemon error outside run ("No such container"), 125 in run
        assert proc.returncode == 1 and "No such container: nosuch" in proc.stderr, (cmd, proc.stderr)
    proc = pallet("run", "--rm", "nosuchimage", "true", check=False)
    assert proc.returncode == 125 and "nosuchimage" in proc.stderr


def _help_flags(text: str) -> list[str]:
    return re.findall(r"^\s+(-[-\w]+(?:, --[-\w]+)?)", text, re.M)


def test_help_lists_every_flag_with_a_line(pallet: Pallet) -> None:
    from pallet.cli.main import COMMANDS

    top = pallet.out("--help")
    for name in {n.split()[0] for n in COMMANDS}:
        assert re.search(rf"^\s+{re.escape(name)}\s+\S", top, re.M), name
    started = time.monotonic()
    for name in COMMANDS:
        text = pallet.out(*name.split(), "--help")
        assert text.startswith(f"usage: pallet {name}"), text[:80]
        lines = text.splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^\s{2}(-\S.*?)(\s{2,}(.*))?$", line)
            if not m:
                continue
            described = bool(m.group(3)) or (i + 1 < len(lines) and lines[i + 1].startswith(" " * 10)
                                               and lines[i + 1].strip())
            assert described, f"pallet {name} --help: flag without a description: {line!r}"
    assert time.monotonic() - started < 60
    run_help = pallet.out("run", "--help")
    documented = Path(__file__).parents[2].joinpath("docs", "cli.md").read_text()
    row = next(line for line in documented.splitlines() if line.startswith("| `run`, `create`"))
    for flag in re.findall(r"^ {2}(?:-\w, )?(--[\w-]+)", run_help, re.M):
        if flag in ("--help",):
            continue
        assert flag in row or flag in documented, f"{flag} of run --help is not in docs/cli.md"


# The in-process runtime takes the engine's spec as it is (no second read or validation at every
# run): the specs the engine writes for the flag families must pass the runtime's own validator.
SPEC_FLAG_SETS = [
    [],
    ["-e", "A=1", "-w", "/w", "-u", "1:2", "--hostname", "h", "--entrypoint", "sh"],
    ["-m", "64m", "--memory-swap", "128m", "--memory-reservation", "32m", "--cpus", "0.5", "--cpu-shares", "512",
     "--cpuset-cpus", "0", "--cpuset-mems", "0", "--pids-limit", "50", "--blkio-weight", "300"],
    ["--device-read-bps", "/dev/vda:1mb", "--device-write-iops", "/dev/vda:100", "--device", "/dev/null:/dev/n2",
     "--device-cgroup-rule", "c 1:3 rwm"],
    ["--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--security-opt", "no-new-privileges",
     "--security-opt", "seccomp=unconfined", "--read-only", "--tmpfs", "/t:size=1m"],
    ["--privileged", "--ulimit", "nofile=1024:2048", "--sysctl", "net.ipv4.ip_forward=1",
     "--oom-score-adj", "100", "--oom-kill-disable", "--init"],
    ["-t", "-i", "--label", "a=b", "--stop-signal", "SIGINT", "-v", "specvol:/data"],
]


@pytest.mark.parametrize("flags", SPEC_FLAG_SETS, ids=lambda f: " ".join(f)[:40] or "defaults")
def test_engine_specs_pass_the_runtime_validator(pallet: Pallet, flags: list[str]) -> None:
    from pallet.oci.validate import validate_config

    cid = pallet.out("create", "--network", "none", *flags, "busybox", "true")
    try:
        pallet("start", cid)
        pallet("wait", cid)
        bundle = pallet.root / "containers" / cid / "bundle"
        spec = json.loads((bundle / "config.json").read_text())
        assert spec["linux"]["cgroupsPath"].endswith(cid)
        validate_config(spec)
    finally:
        pallet("rm", "-f", "-v", cid, check=False)
